"""Writers that lose nothing: real processes installing into one profile at once.

Before the config lock and the merge on save, four concurrent installs all printed
"Installed" and `list` showed one; with the file store, settings named secrets that
were gone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import PD_KEY, XM_URL, cli

from bp_integrate import fs

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "answers"
SECRET_ENV = {
    "incidentio": {"BP_INTEGRATE_INCIDENTIO_SECRET": "inc-secret-0123456789"},
    "pagerduty": {"BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY": PD_KEY},
    "panopta": {
        "BP_INTEGRATE_PANOPTA_TRIGGER_URL_APIKEY": "panopta-trigger-key-1",
    },
    "xmatters": {"BP_INTEGRATE_XMATTERS_PASSWORD": "xm-password-3"},
}
PANOPTA_URLS = ["--set", f"trigger_url={XM_URL}?apiKey=****"]


def base_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BP_INTEGRATE_")}
    env["BP_INTEGRATE_CONFIG_DIR"] = str(tmp_path / "config")
    env["BP_INTEGRATE_STATE_DIR"] = str(tmp_path / "state")
    env["NO_COLOR"] = "1"
    return env


def install_process(name: str, env: dict[str, str]) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "bp_integrate", "install", name, "--no-input"]
    args += ["--no-verify", "--insecure-storage", "--answers", str(EXAMPLES / f"{name}.yaml")]
    if name == "panopta":
        args += PANOPTA_URLS
    return subprocess.Popen(
        args,
        env={**env, **SECRET_ENV[name]},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_installs_into_one_profile_all_land(tmp_path: Path, round_: int) -> None:
    env = base_env(tmp_path)
    procs = {name: install_process(name, env) for name in SECRET_ENV}
    for name, proc in procs.items():
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, (name, err)
    listing = subprocess.run(
        [sys.executable, "-m", "bp_integrate", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    rows = json.loads(listing.stdout)["integrations"]
    installed = {i["integration"] for i in rows if i["installed"]}
    assert installed == set(SECRET_ENV)
    stored = json.loads((tmp_path / "config" / fs_secret_file()).read_text())["secrets"]
    assert stored == {
        "default/incidentio/secret": "inc-secret-0123456789",
        "default/pagerduty/integration_key": PD_KEY,
        "default/panopta/trigger_url.apiKey": "panopta-trigger-key-1",
        "default/xmatters/password": "xm-password-3",
    }


def fs_secret_file() -> str:
    from bp_integrate.secrets import INSECURE_FILE

    return INSECURE_FILE


def test_a_held_lock_gives_a_clear_error_after_the_bounded_wait(
    tmp_path: Path, isolated: Path
) -> None:
    env = {**base_env(tmp_path), "BP_INTEGRATE_LOCK_TIMEOUT": "0.3"}
    env["BP_INTEGRATE_CONFIG_DIR"] = str(isolated)
    with fs.locked(isolated / "config.yaml", "the config file"):
        proc = install_process("pagerduty", env)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 3
    assert "is being changed by another bp-integrate process (waited 0.3 s" in err
    assert "BP_INTEGRATE_LOCK_TIMEOUT=SECONDS waits longer" in err
    assert "Traceback" not in err
    assert not (isolated / "config.yaml").exists()  # nothing half done


def test_save_merges_what_another_process_wrote_meanwhile(isolated: Path) -> None:
    from bp_integrate import config

    first = config.load()
    second = config.load()  # both read the same (empty) file
    first.set_bigpanda("alpha", {"region": "eu"})
    first.save()
    second.set_bigpanda("beta", {"region": "us"})
    second.save()
    assert config.load().profile_names() == ["alpha", "beta"]
    # a removal made here is kept, and what the other process added stays
    third = config.load()
    del third.data["profiles"]["alpha"]
    other = config.load()
    other.set_bigpanda("gamma", {"region": "us"})
    other.save()
    third.save()
    assert config.load().profile_names() == ["beta", "gamma"]


def test_locked_is_reentrant_in_one_process(isolated: Path) -> None:
    path = isolated / "config.yaml"
    with fs.locked(path, "x"), fs.locked(path, "x"):
        assert cli("profile", "set", "--region", "eu").exit_code == 0
    assert "eu-api.bigpanda.io" in path.read_text()


def test_two_saves_of_one_integration_never_blend(isolated: Path) -> None:
    """An integration's entry is one unit: the last writer's, whole."""
    from bp_integrate import config
    from bp_integrate.config import Installed

    first, second = config.load(), config.load()
    first.put("default", Installed("xmatters", {"auth": "basic", "username": "bp"}))
    first.save()
    second.put("default", Installed("xmatters", {"auth": "url"}))
    second.save()
    assert config.load().get("default", "xmatters").values == {"auth": "url"}  # type: ignore[union-attr]
