from __future__ import annotations

import json

import pytest

from viewer.core.settings import Settings, SettingsError, load_settings, save_settings


def test_round_trip_keeps_newer_keys(tmp_path):
    (tmp_path / "settings.json").write_text(json.dumps({"version": 1, "theme": "light", "future": [1, 2]}))
    s = load_settings(tmp_path)
    assert s.theme == "light" and s.annotations
    s.user_presets.append({"modality": "CT", "name": "Lung", "center": -500, "width": 1400})
    save_settings(tmp_path, s)
    data = json.loads((tmp_path / "settings.json").read_text())
    assert data["future"] == [1, 2] and data["version"] == 1
    assert load_settings(tmp_path).user_presets[0]["center"] == -500


def test_missing_file_is_default_and_bad_values_are_named(tmp_path):
    assert load_settings(tmp_path) == Settings()
    (tmp_path / "settings.json").write_text(json.dumps({"theme": "purple"}))
    with pytest.raises(SettingsError, match="purple"):
        load_settings(tmp_path)
    (tmp_path / "settings.json").write_text("{not json")
    with pytest.raises(SettingsError, match="cannot read"):
        load_settings(tmp_path)


def test_annotation_templates_round_trip_and_are_validated(tmp_path):
    s = Settings(annotation_templates={"lower_left": "Im {image}/{images}\n{acquisition}"})
    save_settings(tmp_path, s)
    assert load_settings(tmp_path).annotation_templates == {"lower_left": "Im {image}/{images}\n{acquisition}"}
    assert Settings().annotation_templates == {}  # empty: every corner uses the defaults
    (tmp_path / "settings.json").write_text(json.dumps({"annotation_templates": {"upper_left": "{Nope}"}}))
    with pytest.raises(SettingsError, match=r"annotation template: upper_left: unknown field \{Nope\}"):
        load_settings(tmp_path)
    with pytest.raises(SettingsError, match="annotation_templates must map"):
        Settings(annotation_templates=["{image}"])  # type: ignore[arg-type]
