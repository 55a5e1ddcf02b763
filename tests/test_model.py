"""The style CNN's own parts: generator, labelled folders, one preprocessing path for every
consumer, the pyfunc contract, training into MLflow and moving aliases (tiny models, own store)."""

import io
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from mlflow import MlflowClient
from PIL import Image as PILImage

from core.settings import Settings, get_settings
from model import registry, synthetic
from model.calibration import expected_calibration_error, fit_temperature, softmax
from model.dataset import DatasetError, folder_files, folder_split, synthetic_split
from model.predictor import StylePredictor
from model.preprocess import load_image, to_uint8_array
from model.training import Pool, TrainConfig, assign_folds, train
from tests.factories import CHAMPION, FIRST_TRAINED, encode, labelled_folder

SHIPPED_TAGS = {
    "1": "v1-synthetic",
    "2": "v2-corpus",
    "3": "v3-foreground",
    "4": "v4-stats-first",
    "5": "v5-experts",
    "6": "v6-linear-expert",
}
"""The `shipped` tag of each version a fresh registry gets."""


@pytest.fixture
def own_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """A private MLflow store, so tiny models never become versions of the suite's registry. A sqlite
    file is MLflow's own local store (README, Settings), not a stand-in for a server."""
    monkeypatch.setenv("STYLECAT_MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("STYLECAT_STACK_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield get_settings()
    monkeypatch.undo()
    get_settings.cache_clear()
    registry.configure(get_settings())


@pytest.mark.unit
def test_the_generator_is_deterministic_for_a_seed() -> None:
    first, style = synthetic.sample(5, seed=123)
    again, style_again = synthetic.sample(5, seed=123)
    other, _ = synthetic.sample(5, seed=124)
    assert style == style_again == synthetic.style_of(5, 123)
    assert first.tobytes() == again.tobytes() and first.tobytes() != other.tobytes()
    assert 256 <= max(first.size) <= 1200
    pixels, labels = synthetic_split(8, seed=9, size=32, workers=1)
    pixels_again, labels_again = synthetic_split(8, seed=9, size=32, workers=2)
    assert np.array_equal(pixels, pixels_again) and np.array_equal(labels, labels_again)
    assert sorted(set(labels.tolist())) == [0, 1, 2, 3]


@pytest.mark.unit
def test_the_labelled_folder_loader(tmp_path: Path) -> None:
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "a.png").write_bytes(encode(PILImage.new("RGB", (40, 30), (10, 200, 10))))
    (tmp_path / "line_art").mkdir()
    (tmp_path / "line_art" / "b.jpg").write_bytes(b"not really a jpeg")
    pixels, labels, skipped = folder_split(tmp_path, 32)
    assert pixels.shape == (1, 32, 32, 3) and labels.tolist() == [1] and skipped[0].endswith("b.jpg: not_an_image")
    (tmp_path / "watercolour").mkdir()
    with pytest.raises(DatasetError, match=r"unknown class folder\(s\) \['watercolour'\]"):
        folder_files(tmp_path)


def _awkward_images() -> dict[str, bytes]:
    rgb = synthetic.sample(1, seed=3)[0].resize((200, 150))
    palette = rgb.convert("P", palette=PILImage.Palette.ADAPTIVE)
    palette.info["transparency"] = 0
    sixteen = PILImage.fromarray(np.asarray(rgb.convert("L"), dtype=np.uint16) * 257)
    exif = PILImage.Exif()
    exif[0x0112] = 6  # rotate 90°
    frames = [rgb.convert("P"), rgb.transpose(PILImage.Transpose.FLIP_LEFT_RIGHT).convert("P")]
    animated = io.BytesIO()
    frames[0].save(animated, "GIF", save_all=True, append_images=frames[1:])
    return {
        "cmyk": encode(rgb.convert("CMYK"), "JPEG"),
        "palette+transparency": encode(palette, "PNG", transparency=0),
        "alpha": encode(rgb.convert("RGBA"), "PNG"),
        "16-bit": encode(sixteen, "PNG"),
        "exif-rotated": encode(rgb, "JPEG", exif=exif.tobytes()),
        "animated": animated.getvalue(),
    }


@pytest.mark.unit
def test_awkward_modes_decode_to_rgb_the_same_way_everywhere() -> None:
    predictor = StylePredictor.load(registry.CHAMPION_DIR)
    images = _awkward_images()
    rotated = load_image(images["exif-rotated"])
    assert rotated.size == (150, 200) and rotated.mode == "RGB"  # EXIF orientation applied first
    alpha = load_image(encode(PILImage.new("RGBA", (8, 8), (255, 0, 0, 0)), "PNG"))
    assert alpha.getpixel((1, 1)) == (255, 255, 255)  # transparency composited onto white
    sixteen = load_image(images["16-bit"])
    assert sixteen.mode == "RGB" and max(sixteen.getextrema()[0]) > 100  # scaled to 8 bits, not clipped
    batch = predictor.predict(list(images.values()))
    for name, data, result in zip(images, images.values(), batch, strict=True):
        assert not isinstance(result, Exception), name
        expected = predictor.probabilities(to_uint8_array(load_image(data, draft_size=128), 128)[None])[0]
        assert list(result.probs.values()) == pytest.approx(expected.tolist(), abs=1e-5), name  # type: ignore[union-attr]


@pytest.mark.unit
def test_a_batch_decodes_on_the_forward_passs_threads_in_order_with_its_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    import time

    one, two = (StylePredictor.load(registry.CHAMPION_DIR, threads=n) for n in (1, 2))
    images = list(_awkward_images().values())
    items = [*images[:3], b"not an image", *images[3:], b""]
    threads: set[str] = set()

    def recorded(predictor: StylePredictor) -> Callable[[bytes, int], np.ndarray]:
        pixels = predictor.pixels

        def decode(data: bytes, max_pixels: int) -> np.ndarray:
            threads.add(threading.current_thread().name)
            time.sleep(0.01)  # as a large image would take: the other thread takes the next one
            return pixels(data, max_pixels)

        return decode

    for predictor in (one, two):
        monkeypatch.setattr(predictor, "pixels", recorded(predictor))
    alone = one.decode(items, 40_000_000)
    assert threads == {threading.current_thread().name}
    threads.clear()
    shared = two.decode(items, 40_000_000)
    assert len(threads) == 2 and all(name.startswith("decode") for name in threads)
    assert [type(d) for d in shared] == [type(d) for d in alone]
    assert [d.code for d in shared if isinstance(d, Exception)] == ["not_an_image", "empty"]
    for one, other in zip(alone, shared, strict=True):
        if isinstance(one, np.ndarray):
            assert np.array_equal(one, other)


@pytest.mark.unit
def test_a_time_limit_during_decoding_is_not_reported_as_a_broken_image() -> None:
    import signal

    from billiard.exceptions import SoftTimeLimitExceeded

    noise = np.random.default_rng(6).integers(0, 256, (1600, 1600, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    PILImage.fromarray(noise).save(buffer, "PNG", compress_level=1)  # many chunks: decoding takes a while

    def soft_limit(signum: int, frame: object) -> None:
        raise SoftTimeLimitExceeded()  # what Celery raises in a task that runs over its soft limit

    previous = signal.signal(signal.SIGALRM, soft_limit)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.005)
        with pytest.raises(SoftTimeLimitExceeded):
            load_image(buffer.getvalue())
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_train_logs_a_run_registers_a_version_and_the_pyfunc_keeps_the_contract(own_store: Settings) -> None:
    import mlflow

    config = TrainConfig(n_train=32, n_test=16, epochs=1, image_size=48, batch_size=8, threads=1)
    result = train(config, own_store)
    assert result.version == "1" and result.metrics["n"] == 16
    client = MlflowClient()
    run = client.get_run(result.run_id)
    assert {"loss", "train_accuracy", "test_accuracy", "test_f1_flat"} <= set(run.data.metrics)
    assert run.data.params["epochs"] == "1"
    assert {a.path for a in client.list_artifacts(result.run_id)} >= {"confusion_matrix.png", "evaluation.json"}

    model = mlflow.pyfunc.load_model("models:/style-cnn/1")
    inputs = [__import__("base64").b64encode(data).decode() for data in list(_awkward_images().values())[:3]]
    output = model.predict(inputs)
    assert len(output) == 3
    for item in output:
        item = item if isinstance(item, dict) else item.model_dump()
        assert set(item) == {"pred", "probs"} and set(item["probs"]) == {"3d", "flat", "hand_drawn", "line_art"}
        assert sum(item["probs"].values()) == pytest.approx(1, abs=1e-4)


def test_bootstrap_registers_the_shipped_lineage_and_keeps_a_promoted_model(own_store: Settings) -> None:
    client = registry.configure(own_store)
    first = registry.ensure_champion(client, own_store.model_name)
    assert (first.version, registry.ensure_champion(client, own_store.model_name).version) == (CHAMPION, CHAMPION)
    shipped = {str(v.version): v.tags.get("shipped") for v in client.search_model_versions("name = 'style-cnn'")}
    assert shipped == SHIPPED_TAGS
    from model.folder import ONNX, read_config

    folders = [registry.download_weights(registry.resolve(client, f"models:/style-cnn/{v}")) for v in SHIPPED_TAGS]
    configs = [read_config(folder) for folder in folders]
    assert [c.get("stats", 0) for c in configs] == [0, 1, 2, 2, 2, 2]
    assert [c.get("stats_width", 64) for c in configs] == [64, 64, 64, 128, 128, 128]
    assert [c.get("experts", False) for c in configs] == [False, False, False, False, True, True]
    assert [c.get("linear_expert", False) for c in configs] == [False] * 5 + [True]
    assert all((folder / ONNX).exists() for folder in folders)  # each registered with its export
    assert {StylePredictor.load(folder).image_size for folder in folders} == {128}
    assert registry.load_predictor(registry.resolve(client, "models:/style-cnn@champion")).temperature > 0
    result = train(TrainConfig(n_train=16, n_test=8, epochs=1, image_size=32, batch_size=8, threads=1), own_store)
    assert result.version == FIRST_TRAINED
    assert registry.promote(client, own_store.model_name, FIRST_TRAINED, "champion") == CHAMPION
    assert registry.ensure_champion(client, own_store.model_name).version == FIRST_TRAINED  # a promoted model stays


def test_a_registry_from_before_version_3_gets_the_later_ones_and_keeps_versions_1_and_2(own_store: Settings) -> None:
    """Versions 1 and 2 registered as the release before version 3 did (version 2 tagged `champion`,
    the folder it shipped in): the bootstrap adds the later versions, moves the alias, and renames the tag."""
    from model.pyfunc import register

    client = registry.configure(own_store)
    for tag, (_, folder) in zip(("v1-synthetic", "champion"), registry.SHIPPED[:2], strict=True):
        version = register(folder, name=own_store.model_name)
        client.set_model_version_tag(own_store.model_name, version, registry.SHIPPED_TAG, tag)
    registry.promote(client, own_store.model_name, "2", "champion")
    assert registry.ensure_champion(client, own_store.model_name).version == CHAMPION
    shipped = {str(v.version): v.tags.get("shipped") for v in client.search_model_versions("name = 'style-cnn'")}
    assert shipped == SHIPPED_TAGS
    assert registry.promote(client, own_store.model_name, "1", "champion") == CHAMPION  # roll back to v1
    assert registry.load_predictor(registry.resolve(client, "models:/style-cnn@champion")).image_size == 128


def test_evaluate_on_a_fresh_registry_bootstraps_the_champion(own_store: Settings, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from stylecat.cli import app

    folder = labelled_folder(tmp_path / "labelled", 8, seed=41)
    result = CliRunner().invoke(app, ["model", "evaluate", "--data", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    report = __import__("json").loads(result.stdout.strip().splitlines()[-1])
    assert report["n"] == 8 and set(report["per_class"]) <= {"3d", "flat", "hand_drawn", "line_art"}
    assert all("recall" in m for m in report["per_class"].values())


@pytest.mark.unit
def test_calibration_fits_a_temperature_that_lowers_the_error() -> None:
    rng = np.random.default_rng(0)
    honest = rng.normal(0, 1.5, (6000, 4))  # labels drawn from softmax(honest): calibrated by construction
    labels = np.array([rng.choice(4, p=p) for p in softmax(honest)])
    overconfident = honest * 4  # same ranking, far too sure
    before = expected_calibration_error(softmax(overconfident), labels)
    temperature = fit_temperature(overconfident, labels)
    after = expected_calibration_error(softmax(overconfident, temperature), labels)
    assert temperature == pytest.approx(4, rel=0.15) and before > 0.2 and after < 0.03
    perfect = np.eye(4)[labels] * 50
    assert expected_calibration_error(softmax(perfect), labels) < 1e-6


@pytest.mark.unit
def test_folds_hold_out_whole_sources_and_spread_the_classes() -> None:
    labels = np.repeat(np.arange(4), 60)
    sources = np.array([f"{style}-{i % 5}" for style, i in zip(labels, range(240), strict=True)])
    pool = Pool(np.zeros((240, 2, 2, 3), np.uint8), labels, sources)
    folds = assign_folds(pool, 5)
    assert set(folds) == set(sources) and set(folds.values()) == {0, 1, 2, 3, 4}
    for fold in range(5):  # every fold tests every class
        held = {s for s, f in folds.items() if f == fold}
        assert {int(labels[sources == s][0]) for s in held} == {0, 1, 2, 3}
    with pytest.raises(DatasetError, match="at least 5 sources"):
        assign_folds(pool.take(np.isin(sources, ["0-0", "1-1"])), 5)


@pytest.mark.unit
def test_style_statistics_tell_fills_from_shading_and_strokes() -> None:
    from model.preprocess import normalize
    from model.stats import FEATURES, StyleStats

    flat = np.full((64, 64, 3), 255, np.uint8)
    flat[16:48, 16:48] = (200, 60, 40)
    ramp = np.repeat(np.linspace(0, 255, 64).astype(np.uint8)[None, :, None], 64, 0).repeat(3, 2)
    lines = np.full((64, 64, 3), 255, np.uint8)
    lines[::8] = 0
    stats = StyleStats()(torch.from_numpy(normalize(np.stack([flat, ramp, lines])))).exp().numpy() - 1e-3
    top1, soft = FEATURES.index("top1_colours"), FEATURES.index("soft_ramps")
    assert stats[0, top1] > 0.7 and stats[1, top1] < 0.1 and stats[2, top1] > 0.7
    assert stats[1, soft] > 0.9 and stats[0, soft] < 0.05 and stats[2, soft] < 0.05


@pytest.mark.unit
def test_foreground_statistics_see_stroke_width_wobble_and_ignore_the_margin() -> None:
    from model.preprocess import normalize
    from model.stats import FEATURES, FOREGROUND_FEATURES, StyleStats, feature_names

    def canvas() -> np.ndarray:
        return np.full((96, 96, 3), 255, np.uint8)

    thin, thick, wobbly, small = canvas(), canvas(), canvas(), canvas()
    for row in range(16, 80, 12):
        thin[row, 8:88] = 0
        thick[row : row + 6, 8:88] = 0
        for col in range(8, 88):  # the same strokes, drawn by a shaky hand
            wobbly[row + int(round(2 * np.sin(col / 3.0))), col] = 0
    small[40:56, 40:56] = (30, 120, 200)
    large = canvas()
    large[8:88, 8:88] = (30, 120, 200)
    images = np.stack([thin, thick, wobbly, small, large])
    assert feature_names(2) == FEATURES + FOREGROUND_FEATURES and feature_names(0) == ()
    stats = StyleStats(2)(torch.from_numpy(normalize(images))).exp().numpy() - 1e-3
    assert stats.shape == (5, len(FEATURES) + len(FOREGROUND_FEATURES))
    column = {name: stats[:, i] for i, name in enumerate(feature_names(2))}
    survives = column["survives_erosion_1"]
    assert survives[0] < 0.05 and survives[1] > 0.5  # a one-pixel line erodes away, a 6-pixel bar does not
    wavy = column["edge_coherence_below_0.85"]
    assert wavy[2] > wavy[0] + 0.1  # the shaky strokes bend, the ruled ones run straight
    top1 = column["foreground_top1_colours"]
    assert abs(top1[3] - top1[4]) < 0.05 and top1[3] > 0.9  # the same fill, whatever the margin
    assert column["foreground"][4] > 10 * column["foreground"][3]
    with pytest.raises(ValueError, match="unknown style statistics version 3"):
        feature_names(3)


@pytest.mark.unit
def test_style_statistics_take_odd_sizes_and_an_empty_batch() -> None:
    from model.preprocess import normalize
    from model.stats import StyleStats, feature_names

    names = feature_names(2)
    half = [i for i, name in enumerate(names) if name.startswith("half_scale_gradient")]
    rng = np.random.default_rng(8)
    for height, width in ((33, 35), (129, 128), (32, 33)):  # the model takes 32 to 512 px
        images = rng.integers(0, 256, (2, height, width, 3), dtype=np.uint8)
        changed = images.copy()
        changed[:, -1], changed[:, :, -1] = 0, 255  # the odd last row and column, which a 2 x 2 pooling drops
        stats = StyleStats(2)(torch.from_numpy(normalize(np.concatenate([images, changed]))))
        assert stats.shape == (4, len(names)) and torch.isfinite(stats).all()
        one_by_one = torch.cat([StyleStats(2)(torch.from_numpy(normalize(images[i : i + 1]))) for i in range(2)])
        assert torch.equal(stats[:2], one_by_one)
        if height % 2 and width % 2:
            assert torch.equal(stats[:2, half], stats[2:, half])
    empty = StyleStats(2)(torch.from_numpy(normalize(np.zeros((0, 32, 32, 3), np.uint8))))
    assert empty.shape == (0, len(names))


@pytest.mark.unit
def test_serving_copy_folds_batch_norms_and_predicts_the_same() -> None:
    from model.net import StyleNet, fused_for_inference

    torch.manual_seed(3)
    net = StyleNet(widths=(8, 16, 24, 32, 40), stats=True)
    net.train()
    for _ in range(3):  # move the running statistics away from their initial values
        net(torch.randn(8, 3, 48, 48))
    net.eval()
    fused = fused_for_inference(net)
    x = torch.randn(4, 3, 48, 48)
    with torch.inference_mode():
        assert torch.allclose(fused(x), net(x), atol=1e-4)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())  # the original is untouched


@pytest.mark.unit
def test_training_feeds_the_statistics_of_the_images_before_augmentation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Augmenting shifts the style statistics away from what serving computes (a zoom's resampling
    makes soft ramps of hard edges): the network trains on each image's own, computed once."""
    from model.net import StyleNet
    from model.training import clean_statistics, fit

    pixels, labels = synthetic_split(24, 1, 32)
    net = StyleNet(widths=(8, 16, 24), stats=2)
    clean = clean_statistics(net, pixels)
    assert clean is not None
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    parts = net.parts

    def spy(
        x: torch.Tensor, statistics: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        assert statistics is not None
        seen.append((net.style_statistics(x.detach()), statistics))
        return parts(x, statistics)

    monkeypatch.setattr(net, "parts", spy)
    fit(net, Pool(pixels, labels, np.full(24, "a")), TrainConfig(epochs=2, batch_size=8, image_size=32, threads=1))
    assert len(seen) == 6
    for augmented, given in seen:
        assert all(torch.isclose(row, clean).all(1).any() for row in given)  # every row is an image's own
        assert not torch.allclose(augmented, given, atol=1e-3)  # and not what the augmented pixels give


@pytest.mark.unit
def test_branch_dropout_leaves_whole_images_to_the_statistics_in_training_only() -> None:
    from model.net import StyleNet

    torch.manual_seed(5)
    net = StyleNet(widths=(8, 16, 24), stats=2, dropout=0.0, branch_dropout=0.5).train()
    x = torch.randn(64, 3, 32, 32)
    statistics = net.style_statistics(x)
    logits = net(x, statistics)
    projected = net.statistics[1:](statistics)  # the batch norm sees the same batch as in the pass above
    alone = net.head(torch.cat([torch.zeros(64, 2 * 24), projected], 1))
    dropped = torch.isclose(logits, alone, atol=1e-5).all(1)
    assert 10 < int(dropped.sum()) < 54  # about half the images, each either whole or not at all
    net.eval()
    with torch.inference_mode():
        assert torch.equal(net(x), net(x))  # evaluation mode is deterministic
        assert (
            not torch.isclose(net(x), net.head(torch.cat([torch.zeros(64, 48), net.statistics[1:](statistics)], 1)))
            .all(1)
            .any()
        )


@pytest.mark.unit
def test_experts_mix_their_heads_by_the_gate_and_each_head_learns_its_own_images_alone() -> None:
    from model.net import StyleNet
    from model.training import loss_of

    torch.manual_seed(6)
    net = StyleNet(widths=(8, 16, 24), stats=2, experts=True, linear_expert=True).eval()
    torch.nn.init.normal_(net.linear_statistics.weight)
    net.linear_share.fill_(0.3)
    x = torch.randn(6, 3, 32, 32)
    with torch.inference_mode():
        logits, real, gate, linear = net.parts(x)
        assert real is not None and gate is not None and linear is not None
        share = torch.sigmoid(gate)
        real_side = 0.7 * torch.softmax(real, 1) + 0.3 * torch.softmax(linear, 1)
        mixture = share * torch.softmax(logits, 1) + (1 - share) * real_side
        assert torch.allclose(net(x).exp(), mixture, atol=1e-6)
        assert torch.allclose(net(x).exp().sum(1), torch.ones(6), atol=1e-6)
        assert not torch.allclose(mixture, torch.softmax(logits, 1), atol=1e-3)  # every expert counts
        assert not torch.allclose(real_side, torch.softmax(real, 1), atol=1e-3)

    def gradients(synthetic: list[bool]) -> dict[str, float]:
        net.train().zero_grad()
        target = torch.tensor([0, 1, 2, 3, 0, 1])
        loss, _ = loss_of(net, x, net.style_statistics(x), target, torch.tensor(synthetic))
        loss.backward()
        sums = {}
        for name, layer in (("head", net.head[-1]), ("real", net.real_head[-1])):
            assert isinstance(layer, torch.nn.Linear) and layer.weight.grad is not None
            sums[name] = float(layer.weight.grad.abs().sum())
        return sums

    generator_only = gradients([True] * 6)
    assert generator_only["real"] == 0.0 and generator_only["head"] > 0
    real_only = gradients([False] * 6)
    assert real_only["real"] > 0 and real_only["head"] == 0.0
    mixed = gradients([True, False] * 3)
    assert mixed["real"] > 0 and mixed["head"] > 0
    assert float(net.gate.weight.grad.abs().sum()) > 0
    assert net.linear_statistics.weight.grad is None  # fitted after, not by gradient steps


@pytest.mark.unit
def test_the_linear_expert_is_the_optimal_regression_whatever_the_statistics_scale() -> None:
    import torch.nn.functional as F

    from model.linear_expert import INVERSE_REGULARISATION, fit_linear

    rng = np.random.default_rng(9)
    labels = rng.integers(0, 4, 600)
    # Four informative features of very different scales and offsets, and a constant one.
    centres = 3 * np.eye(4)
    z = centres[labels] + rng.normal(scale=0.8, size=(600, 4))
    raw = np.concatenate([z * [1e-3, 1.0, 50.0, 1.0] + [0.0, 7.0, -300.0, 0.5], np.full((600, 1), 0.25)], 1)
    weights = rng.uniform(0.5, 2.0, 600)
    x, y, w = torch.from_numpy(raw).float(), torch.from_numpy(labels), torch.from_numpy(weights)
    weight, bias = fit_linear(x, y, w, 4)
    assert weight.shape == (4, 5) and bias.shape == (4,)
    assert float(((x @ weight.T + bias).argmax(1) == y).float().mean()) > 0.8
    # Optimal: the objective's gradient vanishes in the standardised coordinates it is solved in.
    mean, std = x.double().mean(0), x.double().std(0, unbiased=False)
    std = torch.where(std > 1e-8, std, torch.ones_like(std))
    standard = (weight.double() * std).requires_grad_()
    offset = (bias.double() + weight.double() @ mean).requires_grad_()
    per_image = F.cross_entropy(((x.double() - mean) / std) @ standard.T + offset, y, reduction="none")
    loss = (per_image * w / w.mean()).mean() + (standard**2).sum() / (2 * INVERSE_REGULARISATION * len(x))
    loss.backward()
    assert standard.grad is not None and offset.grad is not None
    assert float(standard.grad.abs().max()) < 1e-4 and float(offset.grad.abs().max()) < 1e-4


@pytest.mark.unit
def test_the_linear_experts_share_is_the_one_that_predicts_best() -> None:
    from model.linear_expert import fit_share
    from model.net import Parts

    labels = torch.tensor([0, 1, 2, 3] * 5)
    right, wrong = (
        4 * torch.nn.functional.one_hot(labels, 4).float(),
        4 * torch.nn.functional.one_hot((labels + 1) % 4, 4).float(),
    )
    gate = torch.full((20, 1), -5.0)  # the real side's
    assert fit_share(Parts(wrong, wrong, gate, right), labels) == 1.0
    assert fit_share(Parts(wrong, right, gate, wrong), labels) == 0.0
    first = torch.arange(20)[:, None] < 10  # each expert right on half the images
    assert (
        fit_share(Parts(wrong, torch.where(first, right, wrong), gate, torch.where(first, wrong, right)), labels) == 0.5
    )


@pytest.mark.unit
def test_an_experts_export_predicts_what_its_torch_network_does(tmp_path: Path) -> None:
    from model.export import as_input, save
    from model.net import StyleNet
    from model.training import predict_logits

    torch.manual_seed(7)
    net = StyleNet(widths=(8, 16, 24), stats=2, experts=True, linear_expert=True).eval()
    torch.nn.init.normal_(net.linear_statistics.weight)
    net.linear_share.fill_(0.4)
    save(net, tmp_path, image_size=32, temperature=0.8)
    pixels = np.random.default_rng(7).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    with torch.inference_mode():
        expected = torch.softmax(net(as_input(pixels)) / 0.8, 1).numpy()
        gate = net.parts(as_input(pixels)).gate
    assert np.allclose(StylePredictor.load(tmp_path, threads=1).probabilities(pixels), expected, atol=1e-5)
    logits, shares = predict_logits(net, pixels, batch=2)  # what leave-source-out reports, in one pass
    assert gate is not None and np.allclose(shares, torch.sigmoid(gate).squeeze(1).numpy(), atol=1e-6)
    assert np.allclose(softmax(logits, 0.8), expected, atol=1e-5)


@pytest.mark.unit
def test_every_shipped_export_predicts_what_its_torch_network_does() -> None:
    from model.export import as_input, load_net

    items = [synthetic.sample(i, seed=8)[0] for i in range(12)]
    for name, folder in registry.SHIPPED:
        predictor = StylePredictor.load(folder, threads=2)
        pixels = np.stack([to_uint8_array(image, predictor.image_size) for image in items])
        net, config = load_net(folder)
        with torch.inference_mode():
            expected = torch.softmax(net(as_input(pixels)) / config.get("temperature", 1.0), 1).numpy()
        assert np.allclose(predictor.probabilities(pixels), expected, atol=1e-5), name
        assert np.array_equal(predictor.probabilities(pixels).argmax(1), expected.argmax(1)), name


@pytest.mark.unit
def test_what_predicts_never_imports_torch() -> None:
    """The worker's tasks, the pyfunc, the inference server and `stylecat model evaluate` predict
    with ONNX Runtime alone: torch is for training and exporting."""
    script = (
        "import sys\n"
        "import worker.tasks, model.pyfunc, inference.server\n"
        "from stylecat.cli import app\n"
        "sys.argv = ['stylecat', 'model', 'evaluate', '--model', sys.argv[1], '--n', '8', '--json']\n"
        "try:\n"
        "    app()\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
        "print('torch' in sys.modules, 'onnxruntime' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(registry.CHAMPION_DIR)], capture_output=True, text=True, check=True
    )
    evaluated, imported = result.stdout.strip().splitlines()
    assert '"accuracy"' in evaluated
    assert imported == "False True"


@pytest.mark.unit
def test_a_folder_saved_without_its_export_is_exported_when_loaded(tmp_path: Path) -> None:
    from model.folder import ONNX

    _, folder = registry.SHIPPED[0]
    shutil.copytree(folder, tmp_path, dirs_exist_ok=True, ignore=shutil.ignore_patterns(ONNX))
    shipped = StylePredictor.load(folder)
    pixels = np.stack([to_uint8_array(synthetic.sample(i, seed=9)[0], shipped.image_size) for i in range(6)])
    assert np.allclose(StylePredictor.load(tmp_path).probabilities(pixels), shipped.probabilities(pixels), atol=1e-6)
    assert not (tmp_path / ONNX).exists()  # exported in memory: a mounted model folder may be read-only
    with pytest.MonkeyPatch.context() as without_torch:  # as in the inference image
        without_torch.setitem(sys.modules, "model.export", None)
        with pytest.raises(ValueError, match=r"has no model.onnx, and exporting its weights needs torch"):
            StylePredictor.load(tmp_path)


@pytest.mark.unit
def test_a_batch_forwarded_in_chunks_matches_image_by_image(tmp_path: Path) -> None:
    from model.export import save
    from model.net import StyleNet
    from model.predictor import pass_size

    torch.manual_seed(4)
    save(StyleNet(widths=(8, 16, 24, 32, 40), stats=True), tmp_path, image_size=32, temperature=1.0)
    pixels = np.random.default_rng(4).integers(0, 256, (2 * pass_size(2) + 3, 32, 32, 3), dtype=np.uint8)
    for threads in (1, 2):  # passes of 4 and of 16 images
        predictor = StylePredictor.load(tmp_path, threads)
        one_by_one = np.concatenate([predictor.probabilities(pixels[i : i + 1]) for i in range(len(pixels))])
        assert np.allclose(predictor.probabilities(pixels), one_by_one, atol=1e-5)
        assert predictor.probabilities(pixels[:0]).shape == (0, 4)


def test_leave_source_out_training_calibrates_and_reports_every_source(own_store: Settings, tmp_path: Path) -> None:
    from model.export import load_net

    folder = labelled_folder(tmp_path / "corpus", 48, seed=43, sources=3)
    config = TrainConfig(data=folder, n_train=16, n_test=8, epochs=1, image_size=32, batch_size=8, threads=1, folds=3)
    result = train(config, own_store, export=tmp_path / "export")
    cross = result.metrics["leave_source_out"]
    assert cross["n"] == 48 and len(cross["per_source"]) == 12
    assert {m["fold"] for m in cross["per_source"].values()} == {0, 1, 2}
    assert 0 <= cross["ece_after"] <= 1 and cross["temperature"] > 0
    assert 0 <= cross["linear_share"] <= 1 and len(cross["linear_share_by_fold"]) == 3
    assert set(cross["expert_accuracy"]) == {"real_head", "linear"}
    net, saved = load_net(tmp_path / "export")
    assert saved["linear_expert"] and float(net.linear_share) == pytest.approx(cross["linear_share"])
    assert float(net.linear_statistics.weight.detach().abs().sum()) > 0  # fitted on the corpus
    served = cross["temperature"] if cross["calibration_applied"] else 1.0
    assert StylePredictor.load(tmp_path / "export").temperature == pytest.approx(served)
    assert MlflowClient().get_run(result.run_id).data.metrics["lso_accuracy"] == cross["accuracy"]


def test_a_reviewed_gif_is_exported_and_trained_on(own_store: Settings, clean_tables: None, tmp_path: Path) -> None:
    from db.models import Image
    from db.session import session_scope
    from db.writes import add_review
    from images.storage import store
    from producer.reviews import export
    from tests.factories import image_row

    gif = encode(synthetic.sample(2, seed=5)[0].convert("P"), "GIF")
    ref = store(gif, sha256="a" * 64, extension="gif", content_type="image/gif", settings=own_store)
    with session_scope() as session:
        image_id = image_row(session, ref)
        session.execute(Image.__table__.update().where(Image.id == image_id).values(content_type="image/gif"))
        add_review(session=session, image_id=image_id, style="hand_drawn", reviewer="ana")
    with session_scope() as session:
        assert export(session=session, folder=tmp_path / "reviews", settings=own_store) == ([image_id], [])
    assert (tmp_path / "reviews" / "hand_drawn" / f"reviews--{image_id}.gif").exists()
    result = train(
        TrainConfig(
            data=tmp_path / "reviews", n_train=8, n_test=4, epochs=1, image_size=32, batch_size=4, threads=1, folds=0
        ),
        own_store,
    )
    assert MlflowClient().get_run(result.run_id).data.params["corpus_images"] == "1"


def test_list_shows_each_versions_aliases_and_the_shipped_figures(own_store: Settings) -> None:
    """Before, every version showed `aliases -` (search_model_versions leaves them empty) and the
    shipped champion `test_accuracy -`."""
    import json

    from typer.testing import CliRunner

    from stylecat.cli import app

    client = registry.configure(own_store)
    registry.ensure_champion(client, own_store.model_name)
    registry.promote(client, own_store.model_name, "1", "challenger")
    result = CliRunner().invoke(app, ["model", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["version"]: row for row in map(json.loads, result.stdout.strip().splitlines())}
    aliases = {v: [] for v in SHIPPED_TAGS} | {"1": ["challenger"], CHAMPION: ["champion"]}
    assert {v: rows[v]["aliases"] for v in rows} == aliases
    assert {v: rows[v]["shipped"] for v in rows} == SHIPPED_TAGS
    shipped = json.loads((registry.CHAMPION_DIR / registry.EVALUATION).read_text())
    assert rows[CHAMPION]["metrics"]["test_accuracy"] == shipped["synthetic_held_out"]["accuracy"]
    assert rows[CHAMPION]["metrics"]["lso_accuracy"] == shipped["leave_source_out"]["accuracy"]
    assert rows["1"]["metrics"]["test_accuracy"] > 0.9 and "lso_accuracy" not in rows["1"]["metrics"]
    table = CliRunner().invoke(app, ["model", "list"]).stdout
    accuracy = f"test_accuracy {shipped['synthetic_held_out']['accuracy']:.4f}"
    assert "aliases champion" in table and "aliases challenger" in table and accuracy in table


@pytest.mark.unit
def test_reviews_add_to_the_pool_at_their_weight_and_take_no_sources_place() -> None:
    """1,000 synthetic images (250 a style) and 25 reviews of one style, weight 3: each review is drawn
    3 times as often as a synthetic image of its style, and the reviews get 75 / (250 + 75) of that
    style's draws, not the three quarters of all draws a source of real art would get."""
    from model.training import sample_weights
    from model.training_config import REVIEWS

    labels = np.concatenate([np.repeat(np.arange(4), 250), np.full(25, 2)])
    sources = np.array(["synthetic"] * 1000 + [REVIEWS] * 25)
    pool = Pool(np.zeros((1025, 1, 1, 3), np.uint8), labels, sources)
    weights = sample_weights(pool, review_weight=3.0)
    reviewed, synthetic_same = weights[sources == REVIEWS], weights[(sources == "synthetic") & (labels == 2)]
    assert reviewed[0] == pytest.approx(3 * synthetic_same[0])
    assert reviewed.sum() / (reviewed.sum() + synthetic_same.sum()) == pytest.approx(75 / 325)
    assert weights.sum() == pytest.approx(1.0) and reviewed.sum() < 0.1
    assert np.array_equal(
        sample_weights(pool.take(sources != REVIEWS)), sample_weights(pool.take(sources != REVIEWS), review_weight=3)
    )


@pytest.mark.unit
def test_import_store_imports_only_the_sql_stores_a_database_uri_needs() -> None:
    script = (
        "import sys\n"
        "from model.registry import import_store\n"
        "import_store(sys.argv[1])\n"
        "print('mlflow.store.tracking.sqlalchemy_store' in sys.modules)\n"
    )
    for uri, imported in (
        ("sqlite:////tmp/mlflow.db", "True"),
        ("postgresql+psycopg://u@h/db", "True"),
        ("http://mlflow:5000", "False"),
    ):
        result = subprocess.run([sys.executable, "-c", script, uri], capture_output=True, text=True, check=True)
        assert result.stdout.strip() == imported, uri
