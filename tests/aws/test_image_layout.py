"""The pipeline image's layout, rebuilt from its Dockerfile (tests/aws/image_layout.py),
and who a step runs as in it.

``test_compiled_steps_execute`` (test_sagemaker.py) runs every compiled step of a
drift-gated execution in this layout. Here: the substitutions the rebuild makes hold
(the project comes from the wheels, not from the checkout; only what the Dockerfile
copies is there), the harness refuses what it does not understand, and the step's
hand-over from root to its user: output folders owned by root (as SageMaker mounts
them) become the user's, root cannot be regained, and an image that starts as the
unprivileged user gets an error naming the folder it cannot write.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.aws.conftest import PIPELINE_IMAGE
from tests.aws.image_layout import Image, in_image, rebuild
from tests.conftest import REPO

pytestmark = pytest.mark.integration


def run_in(image: Image, code: str, tmp: Path, mounts: dict[str, Path] | None = None):
    return subprocess.run(
        in_image(image, ["python", "-c", code], mounts or {}, tmp / "ns"),
        env=image.env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_layout_is_what_the_dockerfile_copies(pipeline_image, shared):
    image = pipeline_image
    assert image.workdir == "/home/kedro" and image.user == "0:0"
    assert image.env["MLOPS_STEP_USER"] == "10001:10001"
    assert image.entrypoint[-1] == "mlops_platform.aws.sagemaker.step"
    home = image.host("/home/kedro")
    # what the Dockerfile put there; steps run in this layout may have written their
    # caches since (the session shares it), as the step's user, never root
    assert image.built_workdir == ("conf", "pyproject.toml")
    later = {p.name for p in home.iterdir()} - set(image.built_workdir)
    assert all((home / n).stat().st_uid == 10001 for n in later), later
    assert not (home / "conf" / "local").exists()  # .dockerignore keeps it out
    assert (home / "conf" / "aws" / "sagemaker.yml").stat().st_uid == 10001  # --chown


def test_the_project_comes_from_the_wheels_not_the_checkout(pipeline_image, shared):
    done = run_in(
        pipeline_image,
        "import mlops_platform, mlops_serving, sys;"
        "print(mlops_platform.__file__); print(mlops_serving.__file__);"
        f"print({str(REPO / 'src')!r} in sys.path)",
        shared / "t-wheels",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    platform, serving, checkout_on_path = done.stdout.split()
    assert platform.startswith("/opt/venv/lib/") and serving.startswith("/opt/venv/")
    assert checkout_on_path == "False"


def test_the_steps_user_imports_everything_from_image_paths(pipeline_image, shared):
    """As the step's user (10001), every package comes from a path in the image's
    layout, not from this machine's: a path only this machine has works where the
    checkout is readable by all and fails elsewhere (the fresh-clone check clones
    into a folder of mode 0700: boto3 could not be imported). The base interpreter
    is the one substitution of a machine path (tests/aws/image_layout.py)."""
    import dataclasses
    import sys

    as_step_user = dataclasses.replace(pipeline_image, user="10001:10001")
    done = run_in(
        as_step_user,
        "import os, sys, boto3, botocore, kedro, mlflow, mlops_platform;"
        "print(os.getuid()); print('\\n'.join(p for p in sys.path if p))",
        shared / "t-paths",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    uid, *paths = done.stdout.split()
    assert uid == "10001"
    base = sys.base_prefix
    foreign = [
        p for p in paths
        if not p.startswith(("/opt/", "/home/kedro")) and not p.startswith(base)
    ]  # fmt: skip
    assert foreign == [], foreign


def test_the_project_needs_no_source_folder(pipeline_image, shared):
    """Kedro's bootstrap_project raises here (no src/); the entrypoint configures
    Kedro from the installed package instead."""
    done = run_in(
        pipeline_image,
        "from kedro.framework.startup import bootstrap_project; bootstrap_project('.')",
        shared / "t-src",
    )
    assert done.returncode != 0 and "/home/kedro/src" in done.stderr
    ok = run_in(
        pipeline_image,
        "from pathlib import Path; from mlops_platform.aws.sagemaker.step import "
        "configure; configure(Path('.'));"
        "from kedro.framework.project import pipelines; print(len(pipelines))",
        shared / "t-configure",
    )
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert int(ok.stdout.split()[-1]) > 10


def _root_owned(folder: Path) -> Path:
    folder.mkdir(parents=True)
    folder.chmod(0o755)  # as SageMaker mounts /opt/ml/processing/<output>: root's
    return folder


def test_root_hands_the_output_folders_over_and_cannot_come_back(
    pipeline_image, shared
):
    processing = _root_owned(shared / "t-drop" / "processing")
    _root_owned(processing / "drift")
    code = (
        "import os; from pathlib import Path;"
        "from mlops_platform.aws.sagemaker.step import hand_over;"
        "print(hand_over([Path('/opt/ml/processing/drift')], dict(os.environ)));"
        "Path('/opt/ml/processing/drift/d.json').write_text('{}');"
        "print(os.getuid(), os.getgid(), os.getgroups());\n"
        "try:\n    os.setuid(0)\nexcept PermissionError:\n    print('no way back')"
    )
    done = run_in(
        pipeline_image, code, shared / "t-drop", {"/opt/ml/processing": processing}
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[:3] == ["10001", "10001 10001 []", "no way back"]
    assert (processing / "drift" / "d.json").stat().st_uid == 10001
    assert processing.stat().st_uid == 0  # only the step's own folders change hands


def test_an_image_started_as_the_user_names_the_folder_it_cannot_write(
    pipeline_image, shared
):
    """What the Dockerfile did before (USER 10001): SageMaker's root-owned output
    folder cannot be written; the step says which and why, before any work."""
    as_user = Image(**{**pipeline_image.__dict__, "user": "10001:10001"})
    processing = _root_owned(shared / "t-user" / "processing")
    _root_owned(processing / "drift")
    done = subprocess.run(
        in_image(
            as_user,
            ["python", "-m", "mlops_platform.aws.sagemaker.step", "--pipeline",
             "retail.drift", "--export",
             "retail.decision_drift=/opt/ml/processing/drift/drift_decision.json"],
            {"/opt/ml/processing": processing},
            shared / "t-user" / "ns",
        ),
        env=as_user.env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    said = done.stderr.strip().splitlines()[-1]
    assert said.startswith("error: /opt/ml/processing/drift is not writable by uid")
    assert "(owner: 0)" in said and "MLOPS_STEP_USER" in said


def test_the_rebuild_refuses_what_it_does_not_understand(tmp_path):
    base = PIPELINE_IMAGE.read_text()
    cases = {
        "RUN apt-get install -y curl\n": "not understood",
        "ADD https://example.invalid/x /x\n": "ADD",
        "COPY --from=build /opt/other /opt/other\n": "no substitute",
        "COPY no-such-file ./\n": "not in the build context",
    }
    for line, message in cases.items():
        dockerfile = tmp_path / "Dockerfile"
        dockerfile.write_text(base.replace("ENTRYPOINT", line + "ENTRYPOINT"))
        root = tmp_path / "root"
        with pytest.raises((ValueError, FileNotFoundError), match=message):
            rebuild(dockerfile, REPO, root, {"/opt/venv": tmp_path})
        shutil.rmtree(root)
