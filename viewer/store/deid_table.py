"""PS3.15 Annex E Table E.1-1: the Basic Application Level Confidentiality Profile, as data.

One entry per attribute of the table (DICOM 2024b), keyed by pydicom keyword, valued by the
action code of the "Basic Prof." column. Attributes not listed are kept (K), except private
attributes, which the Basic Profile removes (E.3.10 is the option that would keep safe ones),
and the repeating groups handled by pattern below (curves, overlay data and comments).
The "Rtn. Dev. Id. Opt." column is :data:`DEVICE_IDENTITY` (kept with that option), and the
"Rtn. Long. Modif. Dates Opt." column applies to every date the profile would otherwise
touch (see :mod:`viewer.store.deidentify`).
"""

from __future__ import annotations

BASIC_PROFILE: dict[str, str] = {
    # D: replace with a non-zero length dummy value consistent with the VR
    **dict.fromkeys((
        "AcquisitionFieldOfViewLabel", "AnnotationGroupLabel", "AnnotationGroupUID", "AssertionDateTime",
        "AttributeModificationDateTime", "BeamHoldTransitionDateTime", "CertificateOfSigner",
        "ClinicalTrialProtocolEthicsCommitteeName", "ClinicalTrialProtocolID", "ClinicalTrialSponsorName",
        "ClinicalTrialSubjectID", "ClinicalTrialSubjectReadingID", "ContainerIdentifier", "ContentSequence",
        "ContextGroupLocalVersion", "ContextGroupVersion", "Date", "DateTime", "DecayCorrectionDateTime",
        "DestinationAE", "DeviceLabel", "DigitalSignatureDateTime", "EffectiveDateTime",
        "EncapsulatedDocument", "EntityLabel", "EntityLongLabel", "ExclusionStartDateTime",
        "FlowIdentifier", "FlowIdentifierSequence", "FrameAcquisitionDateTime", "FrameOriginTimestamp",
        "FrameReferenceDateTime", "FunctionalSyncPulse", "GraphicAnnotationSequence",
        "HangingProtocolCreationDateTime", "ImpedanceMeasurementDateTime", "InformationIssueDateTime",
        "InterlockDateTime", "InterlockDescription", "InterlockOriginDescription", "ModifyingSystem",
        "OverrideDateTime", "PersonIdentificationCodeSequence", "PersonName", "RTPlanLabel",
        "RTPrescriptionLabel", "RTToleranceSetLabel", "RadiationDoseIdentificationLabel",
        "RadiationDoseInVivoMeasurementLabel", "RadiationGenerationModeLabel",
        "ReasonForTheAttributeModification", "RecordedRTControlPointDateTime", "ReferencedDateTime",
        "SafePositionExitDate", "SafePositionExitTime", "SafePositionReturnDate", "SafePositionReturnTime",
        "SelectorAEValue", "SelectorASValue", "SelectorDAValue", "SelectorDTValue", "SelectorLOValue",
        "SelectorLTValue", "SelectorOBValue", "SelectorPNValue", "SelectorSHValue", "SelectorSTValue",
        "SelectorTMValue", "SelectorUNValue", "SelectorURValue", "SelectorUTValue", "SourceEndDateTime",
        "SourceIdentifier", "SourceStartDateTime", "SourceStrengthReferenceDate",
        "SourceStrengthReferenceTime", "SpecimenIdentifier", "StructureSetLabel", "Time",
        "TreatmentControlPointDate", "TreatmentControlPointTime", "TreatmentPositionGroupLabel",
        "TreatmentToleranceViolationDateTime", "TreatmentToleranceViolationDescription", "UserContentLabel",
        "UserContentLongLabel", "VerificationDateTime", "VerifyingObserverName",
        "VerifyingObserverSequence", "VerifyingOrganization", "XRayDetectorID", "XRaySourceID"
    ), "D"),
    # Z: replace with a zero length value (or a dummy consistent with the VR)
    **dict.fromkeys((
        "AccessionNumber", "CalibrationDateTime", "ClinicalTrialCoordinatingCenterName",
        "ClinicalTrialProtocolName", "ClinicalTrialSiteID", "ClinicalTrialSiteName",
        "ClinicalTrialTimePointID", "ConceptualVolumeCombinationDescription", "ConceptualVolumeDescription",
        "ConsultingPhysicianName", "DeviceAlternateIdentifier", "FillerOrderNumberImagingServiceRequest",
        "FractionationNotes", "IssuerOfTheContainerIdentifierSequence",
        "IssuerOfTheSpecimenIdentifierSequence", "ManufacturerDeviceIdentifier", "ParticipationDateTime",
        "PatientBirthDate", "PatientName", "PatientSex", "PlacerOrderNumberImagingServiceRequest",
        "PrescriptionNotes", "PrescriptionNotesSequence", "ROIInterpreter", "ROIName",
        "RTAccessoryDeviceSlotID", "RTAccessoryHolderSlotID", "RTPhysicianIntentNarrative",
        "RadiationGenerationModeDescription", "ReasonForSuperseding", "ReferringPhysicianName",
        "ReviewDate", "ReviewTime", "SourceOfPreviousValues", "SpecimenPreparationSequence",
        "StructureSetDate", "StructureSetTime", "StudyDate", "StudyID", "StudyTime",
        "TreatmentTechniqueNotes", "VerifyingObserverIdentificationCodeSequence"
    ), "Z"),
    # X: remove
    **dict.fromkeys((
        "AcquisitionComments", "AcquisitionProtocolDescription", "ActualHumanPerformersSequence",
        "AdditionalPatientHistory", "AddressTrial", "AdmissionID", "AdmittingDate",
        "AdmittingDiagnosesCodeSequence", "AdmittingDiagnosesDescription", "AdmittingTime",
        "AffectedSOPInstanceUID", "Allergies", "AnnotationGroupDescription", "ApprovalStatusDateTime",
        "Arbitrary", "AssertionExpirationDateTime", "AuthorObserverSequence", "BeamDescription",
        "BolusDescription", "BranchOfService", "CalibrationDate", "CalibrationTime", "CameraOwnerName",
        "CassetteID", "CertifiedTimestamp", "ClinicalTrialProtocolEthicsCommitteeApprovalNumber",
        "ClinicalTrialSeriesDescription", "ClinicalTrialSeriesID", "ClinicalTrialTimePointDescription",
        "CommentsOnRadiationDose", "CommentsOnThePerformedProcedureStep", "CompensatorDescription",
        "ConfidentialityConstraintOnPatientDataDescription", "ConsultingPhysicianIdentificationSequence",
        "ContainerComponentID", "ContainerDescription", "ContentCreatorIdentificationCodeSequence",
        "ContrastBolusStartTime", "ContrastBolusStopTime", "ContributionDateTime",
        "ContributionDescription", "CountryOfResidence", "CreationDate", "CreationTime",
        "CurrentObserverTrial", "CurrentPatientLocation", "CurveDate", "CurveTime",
        "CustodialOrganizationSequence", "DataSetTrailingPadding", "DateOfDocumentOrVerbalTransactionTrial",
        "DateOfInstallation", "DateOfLastCalibration", "DateOfManufacture", "DateOfSecondaryCapture",
        "DateTimeOfLastCalibration", "DecompositionDescription", "DerivationDescription",
        "DeviceDescription", "DeviceSettingDescription", "DigitalSignaturesSequence", "DischargeDate",
        "DischargeDiagnosisDescription", "DischargeTime", "DisplacementReferenceLabel",
        "DistributionAddress", "DistributionName", "DoseReferenceDescription", "EntityDescription",
        "EntityName", "EquipmentFrameOfReferenceDescription", "EthicsCommitteeApprovalEffectivenessEndDate",
        "EthicsCommitteeApprovalEffectivenessStartDate", "EthnicGroup", "ExpectedCompletionDateTime",
        "FilterLookupTableDescription", "FindingsGroupRecordingDateTrial",
        "FindingsGroupRecordingTimeTrial", "FixationDeviceDescription", "FractionGroupDescription",
        "FrameComments", "GPSAltitude", "GPSAltitudeRef", "GPSAreaInformation", "GPSDOP", "GPSDateStamp",
        "GPSDestBearing", "GPSDestBearingRef", "GPSDestDistance", "GPSDestDistanceRef", "GPSDestLatitude",
        "GPSDestLatitudeRef", "GPSDestLongitude", "GPSDestLongitudeRef", "GPSDifferential",
        "GPSImgDirection", "GPSImgDirectionRef", "GPSLatitude", "GPSLatitudeRef", "GPSLongitude",
        "GPSLongitudeRef", "GPSMapDatum", "GPSMeasureMode", "GPSProcessingMethod", "GPSSatellites",
        "GPSSpeed", "GPSSpeedRef", "GPSStatus", "GPSTimeStamp", "GPSTrack", "GPSTrackRef", "GPSVersionID",
        "GantryID", "GeneratorID", "HL7DocumentEffectiveTime", "HumanPerformerName",
        "HumanPerformerOrganization", "IconImageSequence", "IdentifyingComments", "ImageComments",
        "ImagePresentationComments", "ImagingServiceRequestComments", "Impressions",
        "InstanceCoercionDateTime", "InstanceOriginStatus", "InstitutionAddress",
        "InstitutionalDepartmentName", "InstitutionalDepartmentTypeCodeSequence",
        "InsurancePlanIdentification", "IntendedFractionStartTime",
        "IntendedRecipientsOfResultsIdentificationSequence", "InterpretationApprovalDate",
        "InterpretationApprovalTime", "InterpretationApproverSequence", "InterpretationAuthor",
        "InterpretationDiagnosisDescription", "InterpretationID", "InterpretationIDIssuer",
        "InterpretationRecordedDate", "InterpretationRecordedTime", "InterpretationRecorder",
        "InterpretationText", "InterpretationTranscriber", "InterpretationTranscriptionDate",
        "InterpretationTranscriptionTime", "InterventionDrugStartTime", "InterventionDrugStopTime",
        "IssueDateOfImagingServiceRequest", "IssueTimeOfImagingServiceRequest", "IssuerOfAdmissionID",
        "IssuerOfAdmissionIDSequence", "IssuerOfClinicalTrialProtocolID", "IssuerOfClinicalTrialSeriesID",
        "IssuerOfClinicalTrialSiteID", "IssuerOfClinicalTrialSubjectID",
        "IssuerOfClinicalTrialSubjectReadingID", "IssuerOfClinicalTrialTimePointID", "IssuerOfPatientID",
        "IssuerOfServiceEpisodeID", "IssuerOfServiceEpisodeIDSequence", "LastMenstrualDate", "LensMake",
        "LensModel", "LensSerialNumber", "LensSpecification", "LongDeviceDescription", "MAC", "MakerNote",
        "MedicalAlerts", "MedicalRecordLocator", "MilitaryRank", "ModifiedAttributesSequence",
        "ModifiedImageDate", "ModifiedImageDescription", "ModifiedImageTime", "ModifyingDeviceID",
        "MultienergyAcquisitionDescription", "NameOfPhysiciansReadingStudy",
        "NamesOfIntendedRecipientsOfResults", "NetworkID", "NonconformingDataElementValue",
        "NonconformingModifiedAttributesSequence", "ObservationDateTrial", "ObservationStartDateTime",
        "ObservationTimeTrial", "Occupation", "OrderCallbackPhoneNumber", "OrderCallbackTelecomInformation",
        "OrderEnteredBy", "OrderEntererLocation", "OriginalAttributesSequence", "Originator",
        "OtherClinicalTrialProtocolIDsSequence", "OtherPatientIDs", "OtherPatientIDsSequence",
        "OtherPatientNames", "OverlayDate", "OverlayTime", "ParticipantSequence", "PatientAddress",
        "PatientAge", "PatientBirthName", "PatientBirthTime", "PatientComments",
        "PatientInstitutionResidence", "PatientInsurancePlanCodeSequence", "PatientMotherBirthName",
        "PatientPrimaryLanguageCodeSequence", "PatientPrimaryLanguageModifierCodeSequence",
        "PatientReligiousPreference", "PatientSetupPhotoDescription", "PatientSize", "PatientState",
        "PatientTelecomInformation", "PatientTelephoneNumbers", "PatientTransportArrangements",
        "PatientTreatmentPreparationMethodDescription",
        "PatientTreatmentPreparationProcedureParameterDescription", "PatientWeight", "PerformedLocation",
        "PerformedProcedureStepDescription", "PerformedProcedureStepEndDate",
        "PerformedProcedureStepEndDateTime", "PerformedProcedureStepEndTime", "PerformedProcedureStepID",
        "PerformedProcedureStepStartDate", "PerformedProcedureStepStartDateTime",
        "PerformedProcedureStepStartTime", "PerformedStationAETitle",
        "PerformedStationGeographicLocationCodeSequence", "PerformedStationName",
        "PerformedStationNameCodeSequence", "PerformingPhysicianIdentificationSequence",
        "PerformingPhysicianName", "PersonAddress", "PersonTelecomInformation", "PersonTelephoneNumbers",
        "PhysicianApprovingInterpretation", "PhysiciansOfRecord",
        "PhysiciansOfRecordIdentificationSequence", "PhysiciansReadingStudyIdentificationSequence",
        "PlateID", "PositionAcquisitionTemplateDescription", "PositionAcquisitionTemplateName",
        "PreMedication", "PregnancyStatus", "PrescriptionDescription", "PresentationCreationDate",
        "PresentationCreationTime", "PriorTreatmentDoseDescription", "ProcedureStepCancellationDateTime",
        "ProductExpirationDateTime", "PyramidDescription", "PyramidLabel", "ROICreatorSequence",
        "ROIDateTime", "ROIDescription", "ROIGenerationDescription", "ROIInterpreterSequence",
        "ROIObservationDateTime", "ROIObservationDescription", "ROIObservationLabel", "RTPlanDescription",
        "RTPlanName", "RadiopharmaceuticalStartDateTime", "RadiopharmaceuticalStartTime",
        "RadiopharmaceuticalStopDateTime", "RadiopharmaceuticalStopTime", "ReasonForOmissionDescription",
        "ReasonForRequestedProcedureCodeSequence", "ReasonForStudy", "ReasonForTheImagingServiceRequest",
        "ReasonForTheRequestedProcedure", "ReasonForVisit", "ReasonForVisitCodeSequence", "ReceivingAE",
        "ReferencedDigitalSignatureSequence", "ReferencedPatientAliasSequence",
        "ReferencedPatientPhotoSequence", "ReferencedPatientSequence", "ReferencedSOPInstanceMACSequence",
        "ReferringPhysicianAddress", "ReferringPhysicianIdentificationSequence",
        "ReferringPhysicianTelephoneNumbers", "RegionOfResidence", "RequestAttributesSequence",
        "RequestedContrastAgent", "RequestedProcedureComments", "RequestedProcedureID",
        "RequestedProcedureLocation", "RequestedSeriesDescription", "RequestingAE", "RequestingPhysician",
        "RequestingService", "RespiratoryMotionCompensationTechniqueDescription", "ResponsibleOrganization",
        "ResponsiblePerson", "ResultsComments", "ResultsDistributionListSequence", "ResultsID",
        "ResultsIDIssuer", "RetrieveAETitle", "SOPAuthorizationDateTime", "ScheduledAdmissionDate",
        "ScheduledAdmissionTime", "ScheduledDischargeDate", "ScheduledDischargeTime",
        "ScheduledHumanPerformersSequence", "ScheduledPatientInstitutionResidence",
        "ScheduledPerformingPhysicianIdentificationSequence", "ScheduledPerformingPhysicianName",
        "ScheduledProcedureStepDescription", "ScheduledProcedureStepEndDate",
        "ScheduledProcedureStepEndTime", "ScheduledProcedureStepExpirationDateTime",
        "ScheduledProcedureStepID", "ScheduledProcedureStepLocation",
        "ScheduledProcedureStepModificationDateTime", "ScheduledProcedureStepStartDate",
        "ScheduledProcedureStepStartDateTime", "ScheduledProcedureStepStartTime", "ScheduledStationAETitle",
        "ScheduledStationGeographicLocationCodeSequence", "ScheduledStationName",
        "ScheduledStationNameCodeSequence", "ScheduledStudyLocation", "ScheduledStudyLocationAETitle",
        "ScheduledStudyStartDate", "ScheduledStudyStartTime", "ScheduledStudyStopDate",
        "ScheduledStudyStopTime", "SeriesDescription", "ServiceEpisodeDescription", "ServiceEpisodeID",
        "SetupTechniqueDescription", "ShieldingDeviceDescription", "SlideIdentifier", "SmokingStatus",
        "SourceManufacturer", "SpecialNeeds", "SpecimenAccessionNumber", "SpecimenDetailedDescription",
        "SpecimenShortDescription", "StationAETitle", "StructureSetDescription", "StructureSetName",
        "StudyArrivalDate", "StudyArrivalTime", "StudyComments", "StudyCompletionDate",
        "StudyCompletionTime", "StudyDescription", "StudyIDIssuer", "StudyReadDate", "StudyReadTime",
        "StudyVerifiedDate", "StudyVerifiedTime", "SubstanceAdministrationDateTime", "TelephoneNumberTrial",
        "TemplateLocalVersion", "TemplateVersion", "TextComments", "TextString",
        "TimeOfDocumentCreationOrVerbalTransactionTrial", "TimeOfLastCalibration", "TimeOfSecondaryCapture",
        "TimezoneOffsetFromUTC", "TopicAuthor", "TopicKeywords", "TopicSubject", "TopicTitle",
        "TransducerIdentificationSequence", "TreatmentSites", "UDISequence", "UniqueDeviceIdentifier",
        "VerbalSourceIdentifierCodeSequenceTrial", "VerbalSourceTrial", "VisitComments",
        "WaveformFilterDescription", "XRayDetectorLabel"
    ), "X"),
    # U: replace with a non-zero length UID that is consistent within the set of instances
    **dict.fromkeys((
        "AcquisitionUID", "ConcatenationUID", "ConceptualVolumeUID", "ConstituentConceptualVolumeUID",
        "DeviceUID", "DigitalSignatureUID", "DimensionOrganizationUID", "DoseReferenceUID",
        "DosimetricObjectiveUID", "FailedSOPInstanceUIDList", "FiducialUID", "FrameOfReferenceUID",
        "InstanceCreatorUID", "IrradiationEventUID", "LargePaletteColorLookupTableUID",
        "ManufacturerDeviceClassUID", "MediaStorageSOPInstanceUID", "MultiplexGroupUID",
        "ObservationSubjectUIDTrial", "ObservationUID", "PaletteColorLookupTableUID", "PatientSetupUID",
        "PresentationDisplayCollectionUID", "PresentationSequenceCollectionUID", "PyramidUID",
        "RTTreatmentPhaseUID", "ReferencedConceptualVolumeUID", "ReferencedDoseReferenceUID",
        "ReferencedDosimetricObjectiveUID", "ReferencedFiducialsUID", "ReferencedFrameOfReferenceUID",
        "ReferencedGeneralPurposeScheduledProcedureStepTransactionUID", "ReferencedObservationUIDTrial",
        "ReferencedSOPInstanceUID", "ReferencedSOPInstanceUIDInFile", "ReferencedTreatmentPositionGroupUID",
        "RelatedFrameOfReferenceUID", "RequestedSOPInstanceUID", "SOPInstanceUID", "SeriesInstanceUID",
        "SourceConceptualVolumeUID", "SourceFrameOfReferenceUID", "SpecimenUID", "StorageMediaFileSetUID",
        "StudyInstanceUID", "SynchronizationFrameOfReferenceUID", "TargetUID",
        "TemplateExtensionCreatorUID", "TemplateExtensionOrganizationUID", "TrackingUID", "TransactionUID",
        "TreatmentPositionGroupUID", "TreatmentSessionUID", "UID"
    ), "U"),
    # Z/D: Z unless D is required to maintain IOD conformance (Type 2 vs Type 1)
    **dict.fromkeys((
        "ContentCreatorName", "ContentDate", "ContentTime", "ContrastBolusAgent",
        "InstructionPerformedDateTime", "PatientID"
    ), "Z/D"),
    # X/Z: X unless Z is required to maintain IOD conformance (Type 3 vs Type 2)
    **dict.fromkeys((
        "AcquisitionContextSequence", "AcquisitionDate", "AcquisitionTime", "BarcodeValue", "LabelText",
        "PatientSexNeutered", "ReferencedStudySequence", "RequestedProcedureDescription", "ReviewerName",
        "SourceSerialNumber", "TreatmentMachineName"
    ), "X/Z"),
    # X/D: X unless D is required to maintain IOD conformance (Type 3 vs Type 1)
    **dict.fromkeys((
        "AcquisitionDeviceProcessingDescription", "DateOfLastDetectorCalibration", "DetectorID",
        "EndAcquisitionDateTime", "FirstTreatmentDate", "InstanceCreationDate", "IntendedPhaseEndDate",
        "IntendedPhaseStartDate", "MostRecentTreatmentDate", "ObservationDateTime",
        "OperatorIdentificationSequence", "ProtocolName", "RTPlanDate", "RTPlanTime",
        "RTTreatmentApproachLabel", "SeriesDate", "SeriesTime", "StartAcquisitionDateTime",
        "TimeOfLastDetectorCalibration", "TreatmentDate", "TreatmentSite", "TreatmentTime"
    ), "X/D"),
    # X/Z/D: X unless Z or D is required to maintain IOD conformance (Type 3 vs Type 2 vs Type 1)
    **dict.fromkeys((
        "AcquisitionDateTime", "DeviceSerialNumber", "InstanceCreationTime", "InstitutionCodeSequence",
        "InstitutionName", "OperatorsName", "ReferencedPerformedProcedureStepSequence", "StationName"
    ), "X/Z/D"),
    # X/Z/U*: X unless Z or replacement of contained instance UIDs (U) is required
    **dict.fromkeys((
        "ReferencedImageSequence", "SourceImageSequence"
    ), "X/Z/U*"),
}

# Repeating groups (PS3.5 7.6): Curve Data (50xx,xxxx), Overlay Data (60xx,3000) and
# Overlay Comments (60xx,4000) are removed (X).
REPEATING_GROUP_REMOVALS: tuple[tuple[int, int, int | None], ...] = (
    (0x5000, 0xFF00, None),  # (group base, group mask, element or None for any)
    (0x6000, 0xFF00, 0x3000),
    (0x6000, 0xFF00, 0x4000),
)

# "Rtn. Dev. Id. Opt." column: attributes that identify the device, kept with the Retain
# Device Identity Option (PS3.15 E.3.3).
DEVICE_IDENTITY: frozenset[str] = frozenset({
    "CassetteID", "DetectorID", "DeviceAlternateIdentifier", "DeviceDescription", "DeviceLabel",
    "DeviceSerialNumber", "DeviceSettingDescription", "DeviceUID", "GantryID", "GeneratorID",
    "LensMake", "LensModel", "LensSerialNumber", "LensSpecification", "LongDeviceDescription",
    "ManufacturerDeviceClassUID", "ManufacturerDeviceIdentifier", "ModifyingDeviceID",
    "PerformedStationAETitle", "PerformedStationName", "PerformedStationNameCodeSequence", "PlateID",
    "ScheduledStationAETitle", "ScheduledStationName", "ScheduledStationNameCodeSequence",
    "SourceManufacturer", "SourceSerialNumber", "StationAETitle", "StationName",
    "TransducerIdentificationSequence", "TreatmentMachineName", "UDISequence", "UniqueDeviceIdentifier",
    "XRayDetectorID", "XRayDetectorLabel", "XRaySourceID",
})
