"""The configuration, in one place: YAML read safely (:mod:`.safe_yaml`), checked against
the schema with defaults and the preset filled in (:mod:`.schema`, :mod:`.presets`), files
layered and loaded (:mod:`.load`), paths beside their file (:mod:`.paths`), overrides and
differences (:mod:`.overrides`), typed sections (:mod:`.sections`), experiment sheets
(:mod:`.sheets`) and the dataset subsets a config names (:mod:`.checks`)."""
