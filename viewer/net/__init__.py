"""DICOM networking: remote nodes, DIMSE services over pynetdicom and DICOMweb.

Verification (C-ECHO), query (C-FIND), retrieve (C-MOVE, C-GET), send (C-STORE), the local
storage SCP, and QIDO-RS / WADO-RS / STOW-RS. Calls are blocking generators or functions
meant to run on worker threads; they take cancel tokens and report progress. Depends on
``viewer.core`` only: no Qt, no VTK.
"""
