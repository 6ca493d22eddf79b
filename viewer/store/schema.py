"""The index schema as numbered migrations, applied in order under ``PRAGMA user_version``.

A user's cache outlives Lightbox versions: a new version appends a migration here and never
edits a released one, so opening an old index upgrades it in place (in one transaction per
step) instead of discarding what the user imported.
"""

from __future__ import annotations

# MIGRATIONS[i] takes the schema from version i to i + 1.
MIGRATIONS: tuple[str, ...] = (
    # 1: patient -> study -> series -> instance, plus the journal of files being written.
    """
    CREATE TABLE patient (
        id          INTEGER PRIMARY KEY,
        patient_key TEXT NOT NULL UNIQUE,   -- ID + issuer, or name + birth date when no ID
        patient_id  TEXT NOT NULL,
        issuer      TEXT NOT NULL,
        name        TEXT NOT NULL,
        name_folded TEXT NOT NULL,          -- case/accent folded, for search and priors
        birth_date  TEXT NOT NULL,
        sex         TEXT NOT NULL
    );
    CREATE INDEX patient_by_id ON patient(patient_id);
    CREATE INDEX patient_by_name ON patient(name_folded, birth_date);

    CREATE TABLE study (
        id          INTEGER PRIMARY KEY,
        study_uid   TEXT NOT NULL UNIQUE,
        patient     INTEGER NOT NULL REFERENCES patient(id) ON DELETE CASCADE,
        study_date  TEXT NOT NULL,
        study_time  TEXT NOT NULL,
        description TEXT NOT NULL,
        accession   TEXT NOT NULL,
        referring   TEXT NOT NULL,
        study_id    TEXT NOT NULL,
        added_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
    );
    CREATE INDEX study_by_patient ON study(patient);
    CREATE INDEX study_by_date ON study(study_date);
    CREATE INDEX study_by_accession ON study(accession);

    CREATE TABLE series (
        id            INTEGER PRIMARY KEY,
        series_uid    TEXT NOT NULL UNIQUE,
        study         INTEGER NOT NULL REFERENCES study(id) ON DELETE CASCADE,
        number        INTEGER,
        description   TEXT NOT NULL,
        modality      TEXT NOT NULL,
        body_part     TEXT NOT NULL,
        frame_of_ref  TEXT NOT NULL
    );
    CREATE INDEX series_by_study ON series(study);
    CREATE INDEX series_by_modality ON series(modality);

    CREATE TABLE instance (
        id              INTEGER PRIMARY KEY,
        sop_uid         TEXT NOT NULL UNIQUE,
        series          INTEGER NOT NULL REFERENCES series(id) ON DELETE CASCADE,
        sop_class_uid   TEXT NOT NULL,
        instance_number INTEGER,
        transfer_syntax TEXT NOT NULL,
        frames          INTEGER NOT NULL,
        path            TEXT NOT NULL,      -- relative to the home when managed, absolute when linked
        size            INTEGER NOT NULL,
        storage         TEXT NOT NULL CHECK (storage IN ('copy', 'link')),
        source          TEXT NOT NULL,      -- 'import', 'network', ...
        added_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
    );
    CREATE INDEX instance_by_series ON instance(series);

    -- Managed files being written: committed before the file appears, removed in the same
    -- transaction that indexes it. After a crash, an entry of a dead process marks a file
    -- (or temp file) that nothing indexes: recovery deletes it.
    CREATE TABLE pending_file (
        path TEXT PRIMARY KEY,              -- relative to the home
        pid  INTEGER NOT NULL
    );
    """,
    # 2: measurements the user drew, per image (Measurement.to_dict() as JSON).
    #
    # An image is (SOP Instance UID, 0-based frame). The row hangs off the series, not the
    # instance row: deleting a study or a series (CLI, browser, anyone) cascades to its
    # measurements in SQL, while re-indexing an instance whose linked file moved (Store._finish
    # deletes and re-inserts that instance row) keeps them, as the image is the same.
    """
    CREATE TABLE measurement (
        id          TEXT PRIMARY KEY,       -- Measurement.id
        series      INTEGER NOT NULL REFERENCES series(id) ON DELETE CASCADE,
        sop_uid     TEXT NOT NULL,
        frame       INTEGER NOT NULL DEFAULT 0,
        kind        TEXT NOT NULL,
        data        TEXT NOT NULL,          -- JSON of Measurement.to_dict()
        created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE INDEX measurement_by_series ON measurement(series);
    CREATE INDEX measurement_by_image ON measurement(sop_uid, frame);
    """,
    # 3: measurements drawn in MPR planes (viewer.store.measurements.MprPlane as JSON).
    #
    # A resliced plane is no stored image: such a row has sop_uid '' and says where it was
    # drawn in `plane` (the view's name, a point on the plane and its row/column directions
    # in patient LPS mm, PS3.3 C.7.6.2.1.1); NULL for a measurement on a stored image. Its
    # points are LPS mm like every measurement's, so it hangs off the series (deletes
    # cascade the same way) and means the same in the series' Frame of Reference however
    # the volume is resampled.
    """
    ALTER TABLE measurement ADD COLUMN plane TEXT;
    """,
    # 4: two people under one Patient ID are two patients (issue 4: priors by Patient ID).
    #
    # The patient row holds the first instance's name and birth date; each study now keeps
    # what its own files say, so a study whose folded name or birth date disagrees with the
    # others under the same ID + issuer gets a patient of its own, flagged as an ID collision
    # (a PACS/RIS problem someone must fix). NULL: indexed before this version; Store.open
    # fills them from one file of the study and splits patients merged by mistake.
    """
    ALTER TABLE patient ADD COLUMN id_collision INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE study ADD COLUMN patient_name TEXT;
    ALTER TABLE study ADD COLUMN patient_name_folded TEXT;
    ALTER TABLE study ADD COLUMN patient_birth_date TEXT;
    ALTER TABLE study ADD COLUMN patient_sex TEXT;
    """,
    # 5: what a journal entry is for, so recovery after a power cut keeps an import's files.
    #
    # 'write': a managed file being written (import or receipt); after a crash a complete,
    # valid copy is indexed (the index's last commit may be lost to a power cut while the
    # files and journal were synced: PRAGMA synchronous=NORMAL), an incomplete one deleted.
    # 'delete': a file whose index rows are gone; recovery finishes deleting it.
    # 'legacy': written before this version; recovered as before (receipts indexed, others deleted).
    """
    ALTER TABLE pending_file ADD COLUMN op TEXT NOT NULL DEFAULT 'legacy';
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)
