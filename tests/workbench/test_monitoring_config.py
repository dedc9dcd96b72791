"""``workbench.monitoring``'s files: where the targets are and where the token is read from (the
scraping itself is proven by tests/e2e/test_monitoring.py and the stack's Prometheus image)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.support import ROOT
from workbench.monitoring import RULES, local_target, published_tools, scrape_config, write_config
from workbench.settings import Settings
from workbench.stack import PROMETHEUS_TOKEN_SECRET, Ports, write_monitoring


def test_targets_follow_the_url_prefix_and_the_token_is_only_a_file_path() -> None:
    config = scrape_config("https://hub.example:8443/s2p/", "/run/secrets/t", interval_s=5)
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}  # type: ignore[union-attr]
    assert jobs["hub"]["metrics_path"] == "/s2p/hub/metrics"
    assert jobs["jobs"]["metrics_path"] == "/s2p/services/jobs/metrics"
    assert {j["scheme"] for j in jobs.values()} == {"https"}
    assert {j["static_configs"][0]["targets"][0] for j in jobs.values()} == {"hub.example:8443"}
    assert {j["authorization"]["credentials_file"] for j in jobs.values()} == {"/run/secrets/t"}
    assert "credentials" not in str(config).replace("credentials_file", "")
    assert config["global"] == {"scrape_interval": "5s", "evaluation_interval": "5s"}


@pytest.mark.parametrize("url", ["ftp://h:1", "127.0.0.1:8000", "http://", ""])
def test_a_url_that_is_not_http_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="http"):
        scrape_config(url, "/t")


def test_an_interval_under_a_second_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1 s"):
        scrape_config("http://127.0.0.1:8000", "/t", interval_s=0)


def test_the_local_target_is_the_state_token_file_or_the_one_given(tmp_path: Path) -> None:
    settings = Settings.from_env({"WORKBENCH_STATE_DIR": str(tmp_path)})
    assert local_target(settings, {}) == (
        settings.local_url,
        str(tmp_path / "secrets" / "prometheus_api_token"),
    )
    assert (
        local_target(settings, {"WORKBENCH_PROMETHEUS_TOKEN_FILE": "/run/secrets/p"})[1] == "/run/secrets/p"
    )
    given = Settings.from_env({"WORKBENCH_STATE_DIR": str(tmp_path), "WORKBENCH_PROMETHEUS_TOKEN": "x" * 32})
    with pytest.raises(ValueError, match="WORKBENCH_PROMETHEUS_TOKEN_FILE"):
        local_target(given, {})


def test_the_stack_scrapes_its_hub_proxy_with_the_swarm_secret(tmp_path: Path) -> None:
    ports = Ports(proxy=18000, prometheus=19090)
    config = write_monitoring(tmp_path / "prometheus", ports, 7)
    text = yaml.safe_load(config.read_text())
    assert {t for j in text["scrape_configs"] for t in j["static_configs"][0]["targets"]} == {
        "127.0.0.1:18000"
    }
    assert {j["authorization"]["credentials_file"] for j in text["scrape_configs"]} == {
        PROMETHEUS_TOKEN_SECRET
    }
    rules = yaml.safe_load((tmp_path / "prometheus" / "rules.yml").read_text())
    assert rules["groups"][0]["rules"] == RULES
    assert oct(config.stat().st_mode & 0o777) == "0o644"


def test_written_files_replace_older_ones(tmp_path: Path) -> None:
    write_config(tmp_path, "http://127.0.0.1:1", "/a", interval_s=3)
    config, _ = write_config(tmp_path, "http://127.0.0.1:2", "/b", interval_s=4)
    assert "127.0.0.1:2" in config.read_text() and "127.0.0.1:1" not in config.read_text()


def test_each_published_tool_is_a_target_of_its_own_and_a_broken_one_is_not(tmp_path: Path) -> None:
    config = scrape_config("http://127.0.0.1:8000", "/t", tools=["wind", "storms"])
    paths = {j["job_name"]: j["metrics_path"] for j in config["scrape_configs"]}  # type: ignore[index]
    assert paths == {
        "hub": "/hub/metrics",
        "jobs": "/services/jobs/metrics",
        "tool:storms": "/services/storms/metrics",
        "tool:wind": "/services/wind/metrics",
    }
    apps = tmp_path / "apps"
    shutil.copytree(ROOT / "voila-apps" / "geomagnetic-storms", apps / "geomagnetic-storms")
    (apps / "broken").mkdir()
    (apps / "broken" / "app.yaml").write_text("title: [not, a, title]\n")
    assert published_tools(apps) == ["geomagnetic-storms"]
    text = yaml.safe_load(write_monitoring(tmp_path / "p", Ports(), 5, apps).read_text())
    assert [j["job_name"] for j in text["scrape_configs"]] == ["hub", "jobs", "tool:geomagnetic-storms"]
