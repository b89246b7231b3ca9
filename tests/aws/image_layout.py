"""Rebuild what a Dockerfile's final stage puts in its image, without a docker engine,
so a test can run the image's entrypoint from the image's own layout.

Read from the Dockerfile, instruction by instruction, for the last stage: ``WORKDIR``,
``COPY`` from the build context (``--chown`` applied, ``.dockerignore`` honoured),
``ENV``, ``USER``, ``ENTRYPOINT``, and the ``RUN`` commands that shape the filesystem
(``groupadd``/``useradd``, ``mkdir -p``, ``chown``). Every image path is rebuilt under
a root folder on this machine.

Substituted, and only this: a ``COPY --from=<stage>`` (a build stage's output, such as
the virtualenv the wheel was installed into) is taken from a folder on this machine
named by the caller (:func:`build_stage_venv` makes it the way the build stage does),
and the base image's system (``/usr``, the interpreter) is this machine's. Any other
instruction, or a ``RUN`` command this reader does not know, raises: a new line in the
Dockerfile must be understood here before the test can pass again.

:func:`in_image` runs a command *at the image's own paths*: in a private mount
namespace (``unshare --mount``, root only) the rebuilt folders are bound over ``/home``
and ``/opt``, the substitutes over their image paths, and the caller's folders over
mount points such as ``/opt/ml/processing`` (root-owned, as SageMaker mounts them);
nothing outside the namespace sees these mounts.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

# The base image's (python:3.11-slim) own PATH, which ENV PATH=...:$PATH extends.
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class Image:
    root: Path
    workdir: str = "/"
    env: dict[str, str] = field(default_factory=dict)
    user: str = "0:0"
    entrypoint: list[str] = field(default_factory=list)
    users: dict[str, int] = field(default_factory=dict)
    substitutes: dict[str, Path] = field(default_factory=dict)
    # the working directory's entries as the rebuild left them, before any step ran
    # in it (the image is shared by the session; a step writes its caches there)
    built_workdir: tuple[str, ...] = ()

    def host(self, image_path: str) -> Path:
        """Where an image path is on this machine."""
        for prefix, folder in self.substitutes.items():
            if image_path == prefix or image_path.startswith(prefix + "/"):
                return folder / image_path[len(prefix) :].lstrip("/")
        return self.root / image_path.lstrip("/")

    def _mapped(self, path: str) -> str:
        if not path.startswith("/"):
            return path
        here = self.host(path)
        # a folder the Dockerfile made or filled is the image's; any other (/usr/bin)
        # is the base image's system, which this machine's stands for
        return str(here) if here.exists() else path

    def host_env(self) -> dict[str, str]:
        """The image's environment with its paths mapped to this machine."""
        out = {}
        for key, value in self.env.items():
            parts = value.split(":") if key == "PATH" else [value]
            out[key] = ":".join(self._mapped(p) for p in parts)
        return out

    def uid_gid(self) -> tuple[int, int]:
        uid, _, gid = self.user.partition(":")
        return self.users.get(uid, int(uid) if uid.isdigit() else -1), int(gid or uid)


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    text = dockerfile.read_text().replace("\\\n", " ")
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            op, _, rest = line.partition(" ")
            out.append((op.upper(), rest.strip()))
    return out


def _dockerignore(context: Path) -> list[str]:
    path = context / ".dockerignore"
    if not path.exists():
        return []
    return [
        p.strip()
        for p in path.read_text().splitlines()
        if p.strip() and not p.startswith("#")
    ]


def _ignored(rel: str, patterns: list[str]) -> bool:
    ignored = False
    for pattern in patterns:  # the last match wins, as in .dockerignore
        negate = pattern.startswith("!")
        if fnmatch.fnmatch(rel, pattern.lstrip("!")):
            ignored = not negate
    return ignored


def _chown(path: Path, spec: str, users: dict[str, int]) -> None:
    user, _, group = spec.partition(":")
    uid = users.get(user, int(user) if user.isdigit() else -1)
    gid = int(group) if group.isdigit() else uid
    if uid < 0:
        raise ValueError(f"chown {spec}: unknown user {user!r}")
    for p in [path, *path.rglob("*")]:
        os.chown(p, uid, gid, follow_symlinks=False)


def _copy(image: Image, context: Path, words: list[str], ignore: list[str]) -> None:
    flags = {
        w.split("=", 1)[0]: w.split("=", 1)[1] for w in words if w.startswith("--")
    }
    *sources, dest = [w for w in words if not w.startswith("--")]
    if "--from" in flags:
        for src in sources:
            if src not in image.substitutes:
                raise ValueError(
                    f"COPY --from={flags['--from']} {src}: no substitute given for it"
                )
        return  # taken from the substitute folder (see the module's docstring)
    target_dir = dest if dest.startswith("/") else f"{image.workdir}/{dest}"
    for src in sources:
        path = context / src
        if not path.exists():
            raise FileNotFoundError(f"COPY {src}: not in the build context")
        files = [path] if path.is_file() else sorted(path.rglob("*"))
        for f in files:
            if not f.is_file():
                continue
            rel = f.relative_to(context).as_posix()
            if _ignored(rel, ignore):
                continue
            inside = f.name if path.is_file() else f.relative_to(path).as_posix()
            out = image.host(target_dir.rstrip("/") + "/" + inside)
            if path.is_file() and not dest.endswith("/") and len(sources) == 1:
                out = image.host(target_dir)
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, out)
            if "--chown" in flags:
                _chown(out, flags["--chown"], image.users)
        if "--chown" in flags and path.is_dir():
            _chown(image.host(target_dir), flags["--chown"], image.users)


def _run(image: Image, command: str) -> None:
    for part in command.split("&&"):
        words = shlex.split(part)
        if not words:
            continue
        name = words[0]
        if name in ("groupadd", "useradd"):
            if name == "useradd" and "--uid" in words:
                image.users[words[-1]] = int(words[words.index("--uid") + 1])
                home = words[words.index("--home-dir") + 1]
                folder = image.host(home)
                folder.mkdir(parents=True, exist_ok=True)
                os.chown(folder, image.users[words[-1]], image.users[words[-1]])
        elif name == "mkdir" and words[1:2] == ["-p"]:
            for p in words[2:]:
                image.host(p).mkdir(parents=True, exist_ok=True)
        elif name == "chown":
            args = [w for w in words[1:] if not w.startswith("-")]
            for p in args[1:]:
                _chown(image.host(p), args[0], image.users)
        else:
            raise ValueError(f"RUN {part.strip()!r}: not understood by image_layout.py")


def rebuild(
    dockerfile: Path, context: Path, root: Path, substitutes: dict[str, Path]
) -> Image:
    ops = instructions(dockerfile)
    last = max(i for i, (op, _) in enumerate(ops) if op == "FROM")
    image = Image(root=root, substitutes=dict(substitutes), env={"PATH": BASE_PATH})
    root.mkdir(parents=True, exist_ok=True)
    ignore = _dockerignore(context)
    for op, rest in ops[last + 1 :]:
        if op == "WORKDIR":
            image.workdir = rest
            image.host(rest).mkdir(parents=True, exist_ok=True)
        elif op == "COPY":
            _copy(image, context, rest.split(), ignore)
        elif op == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                image.env[key] = value.replace("$PATH", image.env.get("PATH", ""))
        elif op == "USER":
            image.user = rest
        elif op == "ENTRYPOINT":
            image.entrypoint = json.loads(rest)
        elif op == "RUN":
            _run(image, rest)
        elif op in ("CMD", "ARG", "LABEL", "EXPOSE", "HEALTHCHECK"):
            continue
        else:
            raise ValueError(f"{op} {rest}: not understood by image_layout.py")
    # other users may pass through every folder, as in the / of an image
    for dirpath, _, _ in os.walk(root):
        os.chmod(dirpath, os.stat(dirpath).st_mode | 0o005)
    return image


def build_stage_venv(dockerfile: Path, context: Path, work: Path) -> Path:
    """The substitute for the build stage's ``/opt/venv``: the project's own wheels,
    built with ``pip wheel --no-deps`` from the files the build stage copies (as its
    ``RUN`` does) and installed into a fresh virtualenv. Third-party packages come
    from this interpreter's site-packages (pinned by the same constraints.txt), bound
    at :data:`THIRD_PARTY` and added as a plain path: its ``.pth`` files, the editable
    install of the checkout among them, are not processed, so the checkout's ``src/``
    is not importable from it. :func:`stage_substitutes` gives both mounts."""

    ops = instructions(dockerfile)
    first = next(i for i, (op, _) in enumerate(ops) if op == "FROM")
    last = max(i for i, (op, _) in enumerate(ops) if op == "FROM")
    build = work / "build"
    build.mkdir(parents=True)
    targets: list[str] = []
    for op, rest in ops[first + 1 : last]:
        if op == "COPY":
            *sources, dest = [w for w in rest.split() if not w.startswith("--")]
            for src in sources:
                out = build / dest / (Path(src).name if dest.endswith("/") else "")
                out.parent.mkdir(parents=True, exist_ok=True)
                if (context / src).is_dir():
                    shutil.copytree(
                        context / src,
                        out,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
                    )
                else:
                    shutil.copy2(context / src, out)
        elif op == "RUN" and "pip wheel" in rest:
            wheel = rest.split("pip wheel", 1)[1].split("&&", 1)[0].split()
            targets = [w for w in wheel if not w.startswith("-")][1:]  # after the dir
    if not targets:
        raise ValueError("the build stage has no 'pip wheel' command")
    dist = work / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--quiet", "--wheel-dir", str(dist), *targets],
        cwd=build, check=True,
    )  # fmt: skip
    venv = work / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True
    )
    site = venv / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    site = site / "site-packages"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet",
         "--target", str(site), *map(str, sorted(dist.glob("*.whl")))],
        check=True,
    )  # fmt: skip
    (site / "zz_third_party.pth").write_text(THIRD_PARTY + "\n")
    return venv


# Where the third-party packages appear in the image's layout: this interpreter's
# site-packages bound there (:func:`stage_substitutes`). A path on this machine would
# do only where the image's user can reach it; a checkout in a folder of mode 0700
# (mktemp -d, as the fresh-clone check makes) hid boto3 from the step's user.
THIRD_PARTY = "/opt/third-party-site-packages"


def stage_substitutes(venv: Path) -> dict[str, Path]:
    """The image paths :func:`build_stage_venv`'s virtualenv needs, and their folders
    on this machine."""
    return {"/opt/venv": venv, THIRD_PARTY: Path(sysconfig.get_paths()["purelib"])}


def namespaces_available() -> str | None:
    """Why :func:`in_image` cannot run here, or None."""

    if os.geteuid() != 0:
        return "needs root (a private mount namespace, and running as another user)"
    if shutil.which("unshare") is None:
        return "no unshare(1)"
    probe = subprocess.run(
        ["unshare", "--mount", "true"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        return f"unshare --mount refused: {probe.stderr.decode()[-200:]}"
    return None


def _hidden_interpreter_root() -> tuple[Path, Path] | None:
    """(``/root``, ``/root/.pyenv``) when this machine's interpreter lives under a
    folder other users cannot enter (pyenv under ``/root``); the namespace then lays a
    traversable empty folder over it with only the interpreter's tree bound back (in
    the image the interpreter is the base image's, which every user may run; the
    process may start as root and drop to another user)."""

    real = Path(os.path.realpath(sys.executable))
    for parent in reversed(real.parents):
        if parent == Path("/"):
            continue
        mode = parent.stat().st_mode
        if not mode & 0o001:
            child = real.relative_to(parent).parts[0]
            return parent, parent / child
    return None


def in_image(
    image: Image, argv: list[str], mounts: dict[str, Path], scratch: Path
) -> list[str]:
    """The command that runs ``argv`` in the image's layout: the image's paths
    (``image.root``'s top-level folders bound over the same folders here, the
    substitutes and ``mounts`` over their image paths), from its ``WORKDIR``, as
    its ``USER``. The caller passes the image's environment (``image.env``) as is."""
    uid, gid = image.uid_gid()
    lines = ["set -eu"]
    for mountpoint in [*image.substitutes, *mounts]:
        (image.root / mountpoint.lstrip("/")).mkdir(parents=True, exist_ok=True)
    hidden = _hidden_interpreter_root()
    if hidden is not None:
        parent, keep = hidden
        aside = scratch / "interpreter"
        aside.mkdir(parents=True, exist_ok=True)
        lines += [
            f"mount --bind {shlex.quote(str(keep))} {shlex.quote(str(aside))}",
            f"mount -t tmpfs -o mode=0755 tmpfs {shlex.quote(str(parent))}",
            f"mkdir {shlex.quote(str(keep))}",
            f"mount --bind {shlex.quote(str(aside))} {shlex.quote(str(keep))}",
        ]
    for top in sorted(image.root.iterdir()):
        target = Path("/") / top.name
        if not target.is_dir():
            raise ValueError(
                f"the image has /{top.name}; this machine has no such folder"
            )
        lines.append(f"mount --bind {shlex.quote(str(top))} {shlex.quote(str(target))}")
    for mountpoint, folder in [*image.substitutes.items(), *mounts.items()]:
        lines.append(
            f"mount --bind {shlex.quote(str(folder))} {shlex.quote(mountpoint)}"
        )
    lines.append(f"cd {shlex.quote(image.workdir)}")
    if uid == 0:
        lines.append('exec "$@"')
    else:
        lines.append(f'exec setpriv --reuid={uid} --regid={gid} --clear-groups "$@"')
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            "\n".join(lines), "in-image", *argv]  # fmt: skip
