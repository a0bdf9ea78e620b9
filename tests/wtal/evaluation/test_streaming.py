"""The streaming predictions reader equals the whole-file reader it replaced: the same table,
bit for bit, the same other entries and metrics, and the same message for every bad file."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.wtal.evaluation.perturb import perturbed_predictions
from tests.wtal.evaluation.reference import whole_file_predictions
from wtal.evaluation import evaluate_detection, evaluate_files, parse_tiou_thresholds, tables
from wtal.evaluation.foreground import foreground_from_dict
from wtal.evaluation.tables import ground_truth_from_dict, read_predictions, video_scores_from_dict
from wtal.utils.files import read_json
from wtal.utils.json_stream import JsonStream

TIOU = parse_tiou_thresholds("0.1:0.7:0.1")


def outcome(read: Any, path: Path) -> tuple:
    """("ok", every field of the table as bytes, the other entries as JSON) or ("error",
    exception type, message): equal outcomes mean bit-identical tables or the same error."""
    try:
        table, other = read(path)
    except Exception as exc:  # whatever either reader raises, compared as it is
        return ("error", type(exc).__name__, str(exc))
    columns = (table.video, table.label, table.start, table.end, table.score)
    arrays = [(a.dtype.str, a.shape, a.tobytes()) for a in columns]
    return ("ok", table.video_ids, table.labels, arrays, json.dumps(other))


def before(path: Path) -> tuple:
    def read(path: Path) -> tuple:
        data = read_json(path)
        rest = {k: v for k, v in data.items() if k != "results"} if isinstance(data, dict) else {}
        return whole_file_predictions(data, path), rest

    return outcome(read, path)


def after(path: Path) -> tuple:
    return outcome(read_predictions, path)


@pytest.fixture
def streamed(monkeypatch):
    """Fail if the reader falls back to the whole-file read (it must not, on a valid file)."""

    def whole_file_read(path):
        raise AssertionError(f"{path} was read whole")

    monkeypatch.setattr(tables, "read_json", whole_file_read)


@pytest.fixture(params=[1, 7, 64, JsonStream.CHUNK], ids=lambda n: f"chunk{n}")
def chunk(request, monkeypatch) -> int:
    """Buffer sizes down to one character: values, keys and numbers cut at every place."""
    monkeypatch.setattr(JsonStream, "CHUNK", request.param)
    return request.param


def tricky_data() -> dict[str, Any]:
    """Escapes and unicode in ids and labels, keys in any order, numbers of every form."""
    odd_ids = ['v"quoted\\back\nslash', "vidé", "v\U0001f3cf", "v\u2028sep", "v/\\u0041"]
    labels = ['Cricket "Shot"', "Ωmega", "\U0001f3cf bat", "tab\there", "A"]
    results: dict[str, Any] = {}
    for i, vid in enumerate(odd_ids):
        rows = []
        for k in range(4):
            row = {"segment": [i + k * 1.5, i + k * 1.5 + 2], "label": labels[(i + k) % 5]}
            row["score"] = [0.5, 1, 1e-3, 12345678901234567890][k]
            rows.append(dict(reversed(list(row.items()))) if k % 2 else row)
        results[vid] = rows
    results["negative_and_exponents"] = [
        {"label": "A", "score": -0.0, "segment": [-0.5, 1e1]},
        {"segment": [1e-7, 2.5e2], "score": 0.1, "label": "A"},
    ]
    results["empty"] = []
    return {
        "foreground": {"vidé": {"duration": 9.6, "intervals": [[0.5, 2.0]]}},
        "results": results,
        "version": 'tricky \u00e9 \\ "',
        "video_scores": {"vidé": {"Ωmega": 0.25, "A": 1}},
        "scalars": [None, True],
        "count": 1.5e300,  # a number cut anywhere (1e|+300) must not read as another
        "offset": -7,
    }


LAYOUTS = {
    "compact": lambda d: json.dumps(d),
    "indented": lambda d: json.dumps(d, indent=1),  # as wtal's write_json writes
    "unicode": lambda d: json.dumps(d, ensure_ascii=False),
    "spaced": lambda d: "\r\n\t " + json.dumps(d, indent="\t", separators=(" ,\r\n", " :  ")),
    "tight_trailing_space": lambda d: json.dumps(d, separators=(",", ":")) + " \n\n",
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_tricky_json_reads_the_same(tmp_path, layout, chunk, streamed):
    path = tmp_path / "pred.json"
    path.write_text(LAYOUTS[layout](tricky_data()), encoding="utf-8")
    expected = before(path)
    assert expected[0] == "ok"
    assert after(path) == expected


def synthetic_ground_truth(seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    database = {}
    for v in range(40):
        duration = float(rng.uniform(30, 300))
        starts = np.sort(rng.uniform(0, duration - 10, int(rng.integers(1, 12))))
        database[f"video_test_{v:07d}"] = {
            "subset": "test",
            "duration": duration,
            "annotations": [
                {"segment": [float(s), float(s + rng.uniform(1, 10))], "label": f"c{v % 7}"}
                for s in starts
            ],
        }
    return {"database": database}


def realistic_pair(tmp_path: Path, gt_data: dict[str, Any]) -> tuple[Path, Path]:
    """A ground truth and a localizer's predictions around it, as ``wtal infer`` writes them
    (``video_scores``, ``foreground``, ``version``; ``indent=1``)."""
    data = perturbed_predictions(gt_data, "test", seed=3, tie_scores=True)
    first = next(iter(data["results"]))
    data["video_scores"] = {vid: {"c0": 0.5, "c1": 0.25} for vid in data["results"]}
    data["foreground"] = {first: {"duration": 60.0, "intervals": [[1.0, 5.0]]}}
    data["version"] = "wtal"
    gt, pred = tmp_path / "gt.json", tmp_path / "pred.json"
    gt.write_text(json.dumps(gt_data))
    pred.write_text(json.dumps(data, indent=1))
    return gt, pred


def metrics_before(gt: Path, pred: Path, **options: Any) -> str:
    data = read_json(pred)
    metrics = evaluate_detection(
        ground_truth_from_dict(read_json(gt), "test", gt),
        whole_file_predictions(data, pred),
        TIOU,
        video_scores=video_scores_from_dict(data, pred),
        foreground=foreground_from_dict(data, pred),
        sources={"subset": "test", "ground_truth": str(gt), "predictions": str(pred)},
        **options,
    )
    return json.dumps(metrics.to_dict())


@pytest.mark.parametrize("units", ["seconds", "segments"])
def test_realistic_files_give_the_same_table_and_metrics(tmp_path, units, streamed):
    gt, pred = realistic_pair(tmp_path, synthetic_ground_truth())
    assert after(pred) == before(pred)
    metrics = evaluate_files(gt, pred, "test", TIOU, units=units)
    assert json.dumps(metrics.to_dict()) == metrics_before(gt, pred, units=units)


def test_real_thumos14_predictions_give_the_same_metrics(tmp_path, thumos_ground_truth, streamed):
    gt, pred = realistic_pair(tmp_path, json.loads(thumos_ground_truth.read_text()))
    assert after(pred) == before(pred)
    assert json.dumps(evaluate_files(gt, pred, "test", TIOU).to_dict()) == metrics_before(gt, pred)


ROW = '{"segment": [1, 2], "label": "A", "score": 0.5}'


def doc(results: str, extra: str = "") -> str:
    return '{"version": "x", "results": {' + results + "}" + extra + "}"


#: Bad files, each with the message the whole-file reader gives (the test checks both agree).
BAD = {
    "duplicate key in a row": doc(
        f'"v": [{ROW}, {{"segment": [1, 2], "label": "A", "label": "B"}}]'
    ),
    "duplicate video": doc(f'"v": [{ROW}], "w": [], "v": []'),
    "duplicate top-level key": doc(f'"v": [{ROW}]', ', "version": "y"'),
    "duplicate results": doc(f'"v": [{ROW}]', ', "results": {}'),
    "not an object": "[" + ROW + "]",
    "a string": '"results"',
    "empty file": "",
    "only whitespace": " \n ",
    "no results": '{"version": "x"}',
    "results a list": '{"results": [' + ROW + "]}",
    "results null": '{"results": null}',
    "BOM": "\ufeff" + doc(f'"v": [{ROW}]'),
    "extra data": doc(f'"v": [{ROW}]') + " {}",
    "trailing comma in results": doc(f'"v": [{ROW}],'),
    "trailing comma at the top": doc(f'"v": [{ROW}]', ","),
    "missing colon": '{"results" {"v": []}}',
    "single quotes": "{'results': {}}",
    "truncated in a row": doc(f'"v": [{ROW}]')[:40],
    "truncated between videos": doc(f'"v": [{ROW}], "w": [{ROW}]')[:58],
    "NaN score": doc('"v": [{"segment": [1, 2], "label": "A", "score": NaN}]'),
    "Infinity in a segment": doc('"v": [{"segment": [1, Infinity], "label": "A", "score": 1}]'),
    "missing score": doc(f'"v": [{ROW}, {{"segment": [1, 2], "label": "A"}}]'),
    "reversed": doc(f'"v": [{ROW}], "w": [{ROW}, {{"segment": [3, 2], "label": "A", "score": 1}}]'),
    "segment of 3": doc('"v": [{"segment": [1, 2, 3], "label": "A", "score": 1}]'),
    "label not a string": doc('"v": [{"segment": [1, 2], "label": 3, "score": 1}]'),
    "score a string": doc('"v": [{"segment": [1, 2], "label": "A", "score": "high"}]'),
    "score true": doc('"v": [{"segment": [1, 2], "label": "A", "score": true}]'),
    "segment of strings": doc('"v": [{"segment": ["1", "2"], "label": "A", "score": 1}]'),
    "segment not numeric": doc('"v": [{"segment": ["a", 2], "label": "A", "score": 1}]'),
    "row not an object": doc(f'"v": [{ROW}, [1, 2]]'),
    "video not a list": doc(f'"v": [{ROW}], "w": 5'),
    "video an empty object, then a bad row": doc('"v": {}, "w": [{"segment": [1, 2]}]'),
    "video an empty object alone": doc(f'"v": {{}}, "w": [{ROW}]'),
    "huge score": doc(f'"v": [{ROW}, {{"segment": [1, 2], "label": "A", "score": {"9" * 400}}}]'),
    "huge start": doc(f'"v": [{{"segment": [-{"9" * 400}, 2], "label": "A", "score": 1}}]'),
    "5000 digits": doc(f'"v": [{{"segment": [1, {"1" * 5000}], "label": "A", "score": 1}}]'),
    "deep nesting": doc('"v": [' + "[" * 100_000 + "]" * 100_000 + "]"),
    "a bad row, then bad JSON": doc(
        '"v": [{"segment": [3, 1], "label": "A", "score": 1}], "w": [x]'
    ),
    "a bad row, then a duplicate key": doc(
        f'"v": [{{"segment": [3, 1], "label": "A", "score": 1}}], "w": [{ROW}], "w": []'
    ),
    "a duplicate video, then bad JSON": doc(f'"v": [], "v": [{ROW}, x]'),
    "bad video_scores after good results": doc(f'"v": [{ROW}]', ', "video_scores": [1, }'),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_files_give_the_same_message(tmp_path, name, chunk):
    path = tmp_path / "pred.json"
    path.write_text(BAD[name], encoding="utf-8")
    expected = before(path)
    assert after(path) == expected


def test_unreadable_files_give_the_same_message(tmp_path):
    latin = tmp_path / "latin.json"
    latin.write_bytes(doc('"vid\xe9": []').encode("latin-1"))
    for path in (latin, tmp_path / "missing.json", tmp_path):
        assert after(path) == before(path)
        assert after(path)[0] == "error"


def test_every_truncation_and_mutation_gives_the_same_outcome(tmp_path, chunk):
    # Small enough to try every cut and, at every place, a character that breaks or changes it.
    text = json.dumps(
        {
            "results": {"v\\1": [{"segment": [1, 2.5], "label": "é", "score": 0.5}], "w": []},
            "video_scores": {"w": {"A": 1}},
        }
    )
    path = tmp_path / "pred.json"
    variants = [text[:cut] for cut in range(len(text))]
    variants += [text[:i] + c + text[i + 1 :] for i in range(len(text)) for c in ',}]"x :1\\']
    for variant in variants:
        path.write_text(variant, encoding="utf-8")
        assert after(path) == before(path), variant


def test_the_rows_never_all_exist_as_python_objects(tmp_path, monkeypatch):
    """Traced peak of the reader on 100,000 rows (7 MB) with a buffer in scale (the real one
    is 4 Mi characters for files of hundreds of MB): the whole-file read holds every row as
    dicts (several times the file); the streaming one holds one video's and the columns."""
    monkeypatch.setattr(JsonStream, "CHUNK", 1 << 16)
    row = '{"segment": [12.34, 56.78], "label": "CricketShot", "score": 0.1234}'
    videos = [f'"video_{v}": [' + ", ".join([row] * 1000) + "]" for v in range(100)]
    path = tmp_path / "pred.json"
    path.write_text('{"results": {' + ", ".join(videos) + "}}")
    size = path.stat().st_size

    def peak(read) -> int:
        tracemalloc.start()
        try:
            read(path)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    streamed, whole = peak(read_predictions), peak(lambda p: whole_file_predictions(read_json(p)))
    assert whole > 4 * size
    assert streamed < size, (streamed / size, whole / size)
