"""The model table, its configuration, and each model's request shape against the fake DashScope (which enforces its
own, independently written table of the same provider facts)."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.config import ConfigError, load_settings
from bot.dashscope import DashScopeClient, ImageInput, InvalidInput, MultiImageInput, TextInput
from bot.dashscope.errors import DimensionMismatch
from bot.dashscope.models import MODELS, choice_for_space, choose_model, model_spec, space_key
from bot.dashscope.retry import RetryPolicy
from bot.errors import Disposition
from tests.fakes.dashscope import EMBED_PATH, FAKE_MODELS, FakeDashScope, encode_picture, sample_picture

BASE = {"TELEGRAM_BOT_TOKEN": "123:abc-DEF_1", "DASHSCOPE_API_KEY": "sk-1"}
API_KEY = "sk-models"
RED = ImageInput(encode_picture(sample_picture((220, 30, 30))), "jpeg")


@pytest.fixture
def fake() -> Iterator[FakeDashScope]:
    with FakeDashScope(api_key=API_KEY) as server:
        yield server


def client_for(fake: FakeDashScope, model: str, dimension: int | None = None) -> DashScopeClient:
    return DashScopeClient(api_key=API_KEY, base_url=fake.base_url, model=model, dimension=dimension,
                           requests_per_minute=6000, retry=RetryPolicy(max_attempts=1))


# -- the table --------------------------------------------------------------------------------------------------


def test_the_table_agrees_with_the_fakes_independent_copy_of_the_provider_facts() -> None:
    assert set(MODELS) == set(FAKE_MODELS)
    for name, spec in MODELS.items():
        fake = FAKE_MODELS[name]
        assert spec.dimension == fake.dimension and spec.dimension in spec.dimensions
        assert set(spec.dimensions) == set(fake.dimensions)
        assert spec.supports_multi_images == fake.multi_images
        assert spec.fusion == fake.fusion
        assert spec.max_text_tokens == fake.text_tokens
        assert (spec.max_images, spec.max_videos) == (fake.max_images, fake.max_videos)
        assert fake.max_elements is None or spec.max_elements <= fake.max_elements


def test_qwen3_vl_embedding_and_dated_snapshots_are_known() -> None:
    qwen = model_spec("qwen3-vl-embedding")
    assert (qwen.dimension, qwen.max_elements, qwen.fusion) == (2560, 20, True)
    snapshot = choose_model("tongyi-embedding-vision-plus-2026-03-06")
    assert snapshot.spec is MODELS["tongyi-embedding-vision-plus"]
    assert snapshot.name == "tongyi-embedding-vision-plus-2026-03-06"  # what is sent and what tags its vectors
    with pytest.raises(ValueError, match="unknown model 'tongyi-embedding-vision-max'"):
        model_spec("tongyi-embedding-vision-max")


def test_a_dimension_must_be_offered_and_tags_its_vectors() -> None:
    flash = choose_model("tongyi-embedding-vision-flash", 256)
    assert (flash.dimension, flash.non_default_dimension, flash.space) == (
        256, 256, "tongyi-embedding-vision-flash@256")
    assert choose_model("tongyi-embedding-vision-flash", 768).non_default_dimension is None
    assert choice_for_space(space_key("qwen3-vl-embedding", 1024)) == choose_model("qwen3-vl-embedding", 1024)
    with pytest.raises(ValueError, match="offers 768, 512, 256, 128, 64"):
        choose_model("tongyi-embedding-vision-flash", 1024)
    with pytest.raises(ValueError, match="not a model@dimension tag"):
        choice_for_space("multimodal-embedding-v1")


# -- configuration ----------------------------------------------------------------------------------------------


def test_every_model_and_an_offered_dimension_are_accepted(tmp_path: Path) -> None:
    for name in [*MODELS, "tongyi-embedding-vision-flash-2026-03-06"]:
        settings = load_settings({**BASE, "EMBEDDING_MODEL": name}, dotenv_path=tmp_path / ".env")
        assert settings.embedding.name == name and settings.embedding_dimension is None
    settings = load_settings({**BASE, "EMBEDDING_MODEL": "qwen3-vl-embedding", "EMBEDDING_DIMENSION": "512"},
                             dotenv_path=tmp_path / ".env")
    assert settings.embedding.space == "qwen3-vl-embedding@512"


@pytest.mark.parametrize(("env", "message"), [
    ({"EMBEDDING_MODEL": "gpt-4"}, "EMBEDDING_MODEL is malformed: unknown model 'gpt-4'"),
    ({"EMBEDDING_DIMENSION": "512"}, "EMBEDDING_DIMENSION is malformed: multimodal-embedding-v1 does not offer "
                                     "dimension 512; it offers 1024"),
    ({"EMBEDDING_MODEL": "tongyi-embedding-vision-plus", "EMBEDDING_DIMENSION": "2560"},
     "EMBEDDING_DIMENSION is malformed: tongyi-embedding-vision-plus does not offer dimension 2560"),
    ({"EMBEDDING_DIMENSION": "wide"}, "EMBEDDING_DIMENSION is malformed"),
    ({"EMBEDDING_DIMENSION": "-8"}, "EMBEDDING_DIMENSION is malformed"),
])
def test_unknown_model_or_dimension_is_a_config_error(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({**BASE, **env}, dotenv_path=tmp_path / ".env")
    assert str(caught.value).startswith(message)


@pytest.mark.slow
def test_a_dimension_the_model_lacks_stops_start_up_with_one_line(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(Path(__file__).resolve().parents[1]), **BASE,
           "EMBEDDING_MODEL": "tongyi-embedding-vision-flash", "EMBEDDING_DIMENSION": "1000"}
    proc = subprocess.run([sys.executable, "-m", "bot"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=30, check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("configuration error: EMBEDDING_DIMENSION is malformed: "
                                  "tongyi-embedding-vision-flash does not offer dimension 1000")
    assert proc.stderr.count("\n") == 1


# -- request shapes against the fake ----------------------------------------------------------------------------


@pytest.mark.parametrize("choice", [(name, dim) for name, spec in MODELS.items() for dim in spec.dimensions[:2]]
                         + [("tongyi-embedding-vision-plus-2026-03-06", None)])
async def test_each_model_and_dimension_request_shape(fake: FakeDashScope, choice: tuple[str, int | None]) -> None:
    name, dimension = choice
    client = client_for(fake, name, dimension)
    try:
        result = await client.embed([RED, TextInput("a red square")])
    finally:
        await client.aclose()
    body = fake.embed_requests[-1].json
    assert isinstance(body, dict) and body["model"] == name
    asked = client.spec.non_default_dimension
    assert body["parameters"] == ({} if asked is None else {"dimension": asked})
    assert [len(vector) for vector in result.vectors] == [client.spec.dimension] * 2


@pytest.mark.parametrize("name", list(MODELS))
async def test_each_model_batches_texts_up_to_its_element_limit(fake: FakeDashScope, name: str) -> None:
    client = client_for(fake, name)
    limit = client.spec.max_elements
    try:
        await client.embed([TextInput(f"t{i}") for i in range(limit)])
        with pytest.raises(InvalidInput, match=f"limit of {limit}"):
            await client.embed([TextInput(f"t{i}") for i in range(limit + 1)])
    finally:
        await client.aclose()
    assert len(fake.embed_requests) == 1  # the oversized request never left


@pytest.mark.parametrize("name", list(MODELS))
async def test_multi_images_only_where_the_model_takes_them(fake: FakeDashScope, name: str) -> None:
    client = client_for(fake, name)
    frames = MultiImageInput((RED, RED))
    try:
        if client.supports_multi_images:
            result = await client.embed([frames])
            assert len(result.vectors[0]) == client.spec.dimension
        else:
            with pytest.raises(InvalidInput, match="does not accept multi_images"):
                await client.embed([frames])
    finally:
        await client.aclose()


async def test_an_answer_of_another_length_is_a_clear_operator_error(fake: FakeDashScope) -> None:
    fake.ignore_dimension = True  # the model answers its default whatever was asked
    client = client_for(fake, "tongyi-embedding-vision-plus", 512)
    try:
        with pytest.raises(DimensionMismatch) as caught:
            await client.embed([TextInput("hello")])
    finally:
        await client.aclose()
    assert "returned vectors of 1152 dimensions, not the configured 512" in str(caught.value)
    assert "EMBEDDING_DIMENSION" in str(caught.value)
    assert caught.value.disposition is Disposition.PAUSE_ACCOUNT and caught.value.code == "DimensionMismatch"


# -- the fake enforces each model's rules -----------------------------------------------------------------------


def post(fake: FakeDashScope, model: str, contents: list[object], **parameters: object) -> httpx.Response:
    body = {"model": model, "input": {"contents": contents}, "parameters": parameters}
    return httpx.post(fake.base_url + EMBED_PATH.removeprefix("/api/v1"), json=body, timeout=10,
                      headers={"Authorization": f"Bearer {fake.api_key}"})


def test_fake_answers_an_offered_dimension_and_refuses_others(fake: FakeDashScope) -> None:
    offered = post(fake, "qwen3-vl-embedding", [{"text": "a"}], dimension=256)
    assert len(offered.json()["output"]["embeddings"][0]["embedding"]) == 256
    for model, dimension in (("qwen3-vl-embedding", 64), ("multimodal-embedding-v1", 512)):
        refused = post(fake, model, [{"text": "a"}], dimension=dimension)
        assert (refused.status_code, refused.json()["code"]) == (400, "InvalidParameter")


def test_fake_enforces_qwen3_limits_and_fusion(fake: FakeDashScope) -> None:
    too_many = post(fake, "qwen3-vl-embedding", [{"text": str(i)} for i in range(21)])
    assert too_many.status_code == 400 and "limit of 20" in too_many.json()["message"]
    image = "data:image/jpeg;base64," + base64.b64encode(RED.data).decode()
    multi = post(fake, "qwen3-vl-embedding", [{"multi_images": [image, image]}])
    assert multi.status_code == 400 and "multi_images is not supported" in multi.json()["message"]
    fused = post(fake, "qwen3-vl-embedding", [{"image": image}, {"text": "red"}], enable_fusion=True)
    assert [e["type"] for e in fused.json()["output"]["embeddings"]] == ["fusion"]
    no_fusion = post(fake, "tongyi-embedding-vision-flash", [{"text": "red"}], enable_fusion=True)
    assert no_fusion.status_code == 400


def test_fake_takes_dated_snapshots_as_their_base_model(fake: FakeDashScope) -> None:
    answer = post(fake, "tongyi-embedding-vision-flash-2026-03-06", [{"text": "a"}])
    assert len(answer.json()["output"]["embeddings"][0]["embedding"]) == 768
    assert post(fake, "tongyi-embedding-vision-max-2026-03-06", [{"text": "a"}]).json()["message"] == (
        "Model not exist.")
