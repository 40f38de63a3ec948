"""The compile config's `integration:` key: the paper's shift-and-add on request, the compiler's
choice otherwise; a bad value is a one-line error."""

import pytest

import models
from sdannc.config import config_text, load_config, parse_config
from sdannc.errors import SdanncError
import sdannc


def _schemes(config):
    compiled = sdannc.compile(models.quantized("cnn_pool"), "darwin3", config=config)
    return {r["layer"]: (r["integration"], r["acc_shift"]) for r in compiled.report["layers"]
            if r["integration"]}


def test_horner_on_request_and_the_compilers_choice_without():
    chosen, paper = _schemes(None), _schemes({"integration": "horner"})
    assert chosen["conv1"][0] == "exact" and chosen == _schemes({"integration": "auto"})
    assert _schemes({"integration": "weighted"})["conv1"][0] == "weighted"  # exact off
    assert paper["conv1"][0] == "horner" and paper["conv1"][1] > 0
    assert set(chosen) == set(paper)


def test_the_key_round_trips_and_bad_values_are_refused(tmp_path):
    plan = parse_config({"integration": "horner"}, "config <dict>")
    path = tmp_path / "sdannc.yaml"
    path.write_text(config_text(plan))
    assert load_config(path).integration == plan.integration == "horner" and "integration: horner" in path.read_text()
    with pytest.raises(SdanncError, match=r"^config x: integration: 'wide': expected one of auto, horner, weighted, exact$"):
        parse_config({"integration": "wide"}, "config x")
