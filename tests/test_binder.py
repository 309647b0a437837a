"""binder/ (repo2docker): the Binder image's pins agree with pyproject's dependencies and
with each other, the notebooks need nothing outside the declared dependencies, and
postBuild installs the package from the repository with its JavaScript built.

Nothing here reaches a network: a real resolution of binder/requirements.txt needs the
PyTorch CPU index. What can be checked offline is checked against pyproject.toml, the
development pins in scripts/_setup.sh and the dependency metadata of the installed
distributions."""

from __future__ import annotations

import ast
import os
import re
import shutil
import stat
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
PACKAGE = "landscape_widgets"


# ------------------------------------------------------------------ parsing


def pyproject() -> dict:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def project_requirements() -> dict[str, Requirement]:
    """[project].dependencies that apply here, by canonical name."""
    reqs = {}
    for line in pyproject()["project"]["dependencies"]:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate():
            reqs[canonicalize_name(req.name)] = req
    return reqs


def binder_extras() -> set[str]:
    """Distributions of pyproject's optional extras that the Binder image pins too."""
    pinned_here, _ = binder_requirements()
    extras = pyproject()["project"].get("optional-dependencies", {})
    names = {canonicalize_name(Requirement(line).name)
             for group, lines in extras.items() if group != "test" for line in lines}  # fmt: skip
    return names & set(pinned_here)


def read_requirements(path: Path) -> tuple[dict[str, Requirement], list[str]]:
    """A pip requirements file: (requirements by canonical name, option lines)."""
    reqs: dict[str, Requirement] = {}
    options: list[str] = []
    for raw in path.read_text().splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if not line:
            continue
        if line.startswith("-"):
            options.append(line)
            continue
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name not in reqs, f"{path.name}: {req.name} is listed twice"
        reqs[name] = req
    return reqs, options


def binder_requirements() -> tuple[dict[str, Requirement], list[str]]:
    return read_requirements(BINDER / "requirements.txt")


def pinned(req: Requirement) -> Version | None:
    """The version of an exact pin ``name==X`` (no wildcard), else None."""
    specs = list(req.specifier)
    if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
        return Version(specs[0].version)
    return None


def setup_torch_pins() -> dict[str, Version]:
    """The torch / torchvision versions scripts/_setup.sh installs for development."""
    text = (ROOT / "scripts" / "_setup.sh").read_text()
    match = re.search(r"^TORCH_PINS=\(([^)]*)\)", text, re.M)
    assert match, "scripts/_setup.sh no longer defines TORCH_PINS=(...)"
    pins = {}
    for item in match.group(1).split():
        name, version = item.split("==")
        pins[canonicalize_name(name)] = Version(version)
    return pins


def public(v: Version) -> Version:
    return Version(v.public)


# ------------------------------------------------------------------ requirements


def test_every_binder_requirement_is_an_exact_pin():
    reqs, _ = binder_requirements()
    assert reqs, "binder/requirements.txt lists nothing"
    loose = [str(r) for r in reqs.values() if pinned(r) is None or r.marker or r.extras or r.url]
    assert not loose, f"binder/requirements.txt must pin exact versions (reproducible): {loose}"


def test_binder_pins_satisfy_the_project_dependencies():
    """No version conflict: postBuild's ``pip install .`` must keep every pinned version
    (above all the CPU torch), so each pin must satisfy pyproject's specifier, and
    every dependency of the project must be pinned."""
    reqs, _ = binder_requirements()
    problems = []
    for name, want in project_requirements().items():
        have = reqs.get(name)
        if have is None:
            problems.append(f"{want.name}: a dependency in pyproject.toml, not pinned for Binder")
            continue
        version = pinned(have)
        if version is None:
            continue  # reported by test_every_binder_requirement_is_an_exact_pin
        if not want.specifier.contains(version, prereleases=True):
            problems.append(f"{have} does not satisfy pyproject's {want}")
    assert not problems, "\n".join(problems)


def test_binder_installs_the_cpu_build_of_the_development_torch():
    reqs, options = binder_requirements()
    urls = [o.split(None, 1)[1].strip() for o in options if o.split()[0].endswith("index-url")]
    assert CPU_INDEX in [u.rstrip("/") for u in urls], (
        f"binder/requirements.txt needs '--extra-index-url {CPU_INDEX}' for the CPU torch"
    )
    for name, dev in setup_torch_pins().items():
        assert name in reqs, f"binder/requirements.txt does not pin {name}"
        version = pinned(reqs[name])
        assert version is not None, f"binder/requirements.txt: {reqs[name]} is not an exact pin"
        assert version.local == "cpu", (
            f"binder/requirements.txt: {reqs[name]} is not the CPU build (want {name}=={dev}+cpu; "
            "the default wheel brings gigabytes of CUDA libraries into the image)"
        )
        assert public(version) == public(dev), (
            f"binder/requirements.txt pins {name}=={version}, scripts/_setup.sh {name}=={dev}"
        )


def test_binder_pins_agree_with_each_other():
    """Each pinned distribution that is installed here at the pinned version declares its
    own requirements; the other pins must satisfy them (torchvision's exact torch, for
    one). Distributions installed at other versions cannot be checked offline."""
    reqs, _ = binder_requirements()
    env = dict(default_environment(), extra="")
    checked, problems = [], []
    for name, req in reqs.items():
        version = pinned(req)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            continue
        if version is None or public(Version(dist.version)) != public(version):
            continue
        checked.append(name)
        for line in dist.requires or []:
            dep = Requirement(line)
            if dep.marker is not None and not dep.marker.evaluate(env):
                continue
            other = reqs.get(canonicalize_name(dep.name))
            other_version = pinned(other) if other is not None else None
            if other_version is None:
                continue  # not pinned: pip picks a version that fits
            if not dep.specifier.contains(other_version, prereleases=True):
                problems.append(f"{req} requires {dep}, but binder pins {other}")
    if not checked:
        pytest.skip("no binder pin is installed here at its pinned version")
    assert not problems, "\n".join(problems)


def test_binder_python_satisfies_requires_python():
    runtime = (BINDER / "runtime.txt").read_text().strip()
    match = re.fullmatch(r"python-(\d+\.\d+)", runtime)
    assert match, f"binder/runtime.txt should read python-X.Y, not {runtime!r}"
    requires = SpecifierSet(pyproject()["project"]["requires-python"])
    assert requires.contains(match.group(1)), f"{runtime} is outside requires-python {requires}"


# ------------------------------------------------------------------ the notebooks


def notebook_code(path: Path) -> list[str]:
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "code"]


def top_level_imports(source: str) -> set[str]:
    """Top-level module names imported by a cell (IPython magics and shell lines dropped)."""
    lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    modules = set()
    for node in ast.walk(ast.parse("\n".join(lines))):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module.split(".")[0])
    return modules


NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_imports_only_declared_dependencies(path):
    """What a notebook imports comes from the standard library, the package itself or a
    distribution declared in [project].dependencies (so the Binder image, which installs
    those, has it); transitive dependencies do not count, they may go away."""
    declared = set(project_requirements()) | binder_extras()
    owners = metadata.packages_distributions()
    problems = []
    for source in notebook_code(path):
        for module in sorted(top_level_imports(source)):
            if module in sys.stdlib_module_names or module == PACKAGE:
                continue
            dists = {canonicalize_name(d) for d in owners.get(module, [])}
            if not dists:
                problems.append(f"{module}: not installed here, and so not declared")
            elif not dists & declared:
                problems.append(f"{module} (from {', '.join(sorted(dists))}) is not declared")
    assert not problems, f"{path.name} imports undeclared modules:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_installs_and_fetches_nothing(path):
    """No package installs or downloads from a cell: a Binder session has what it needs."""
    shell = re.compile(r"^\s*[!%]+\s*(pip|conda|mamba|apt|apt-get|npm|wget|curl)\b", re.M)
    found = [m.group(0).strip() for src in notebook_code(path) for m in shell.finditer(src)]
    assert not found, f"{path.name} installs or downloads at run time: {found}"


def test_the_import_check_can_fail():
    """The check above sees an undeclared module (matplotlib is never a dependency here)."""
    source = "import matplotlib.pyplot as plt\n%matplotlib inline"
    assert top_level_imports(source) == {"matplotlib"}
    assert "matplotlib" not in project_requirements()


# ------------------------------------------------------------------ postBuild and start


def git_mode(path: Path) -> str | None:
    """The file mode git records for ``path`` (None when untracked or outside git)."""
    proc = subprocess.run(
        ["git", "ls-files", "-s", "--", str(path.relative_to(ROOT))],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    return proc.stdout.split()[0] if proc.returncode == 0 and proc.stdout.strip() else None


@pytest.mark.parametrize("name", ["postBuild", "start"])
def test_binder_scripts_are_executable_bash(name):
    path = BINDER / name
    assert path.read_text().startswith("#!/bin/bash\n"), f"binder/{name} needs a bash shebang"
    assert path.stat().st_mode & stat.S_IXUSR, f"binder/{name} is not executable (chmod +x)"
    mode = git_mode(path)
    assert mode in (None, "100755"), f"git records binder/{name} as {mode}, not executable"
    proc = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def shim(folder: Path, name: str, log: Path, body: str = "") -> None:
    """A command that appends "name args @ cwd" to ``log`` and reads its stdin."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / name
    script.write_text(
        "#!/bin/bash\n"
        f'printf "%s\\n" "{name} $* @ $PWD" >> "{log}"\n'
        "[ -t 0 ] || cat > /dev/null\n" + body
    )
    script.chmod(0o755)


def binder_checkout(tmp_path: Path) -> Path:
    """A repository copy with what postBuild touches (never the real js/node_modules)."""
    repo = tmp_path / "repo"
    for rel in ("binder/postBuild", "binder/start", "pyproject.toml", "js/package.json"):
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, repo / rel)
    (repo / "js" / "node_modules" / "esbuild").mkdir(parents=True)
    return repo


def run_postbuild(repo: Path, path_dirs: list[Path]) -> subprocess.CompletedProcess:
    env = {"HOME": str(repo), "PATH": os.pathsep.join(map(str, path_dirs))}
    return subprocess.run(
        [str(repo / "binder" / "postBuild")],
        cwd=repo, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def calls_matching(calls: list[str], pattern: str, where: Path) -> list[int]:
    """Indices of the recorded calls that match ``pattern`` and ran in ``where``."""
    return [i for i, c in enumerate(calls) if re.match(pattern, c) and c.endswith(f"@ {where}")]


def test_postbuild_builds_the_front_end_and_installs_the_repo(tmp_path):
    """postBuild, with npm and python replaced by recorders: the locked front-end
    dependencies, then a non-editable install of the repository (which builds the
    bundles), a check of the installed bundles, and the build's node_modules removed."""
    repo, log, bin_ = binder_checkout(tmp_path), tmp_path / "calls.log", tmp_path / "bin"
    shim(bin_, "npm", log)
    shim(bin_, "python", log)
    for tool in ("rm", "cat"):
        (bin_ / tool).symlink_to(shutil.which(tool))
    proc = run_postbuild(repo, [bin_])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    calls = log.read_text().splitlines()
    npm_ci = calls_matching(calls, r"npm ci\b", repo / "js")
    pip = calls_matching(calls, r"python -m pip install\b", repo)
    assert npm_ci, f"no `npm ci` in js/: {calls}"
    assert pip, f"no `python -m pip install` from the repository root: {calls}"
    args = calls[pip[0]].split(" @ ")[0].split()[4:]
    assert "." in args, f"postBuild must install the repository itself: {calls[pip[0]]}"
    assert not {"-e", "--editable", "--no-deps"} & set(args), calls[pip[0]]
    assert npm_ci[0] < pip[0], "npm ci must come before the install that builds the bundles"
    checks = [c for c in calls[pip[0] + 1 :] if c.startswith("python - @")]
    assert checks and not checks[0].endswith(f"@ {repo}"), (
        "postBuild should check the installed bundles from outside the repository (else the "
        f"source folder is imported): {calls}"
    )
    assert not (repo / "js" / "node_modules").exists(), "js/node_modules is left in the image"


def test_postbuild_says_so_when_npm_is_missing(tmp_path):
    repo, log, bin_ = binder_checkout(tmp_path), tmp_path / "calls.log", tmp_path / "bin"
    shim(bin_, "python", log)
    proc = run_postbuild(repo, [bin_])
    assert proc.returncode != 0
    assert "npm" in proc.stderr
    assert not log.exists(), "nothing may be installed without npm"


def test_start_runs_the_session_command_with_bounded_threads():
    start = str(BINDER / "start")
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    out = subprocess.run(
        [start, "bash", "-c", 'echo "ran ${OMP_NUM_THREADS:-unset}"'],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert out[0] == "ran"
    assert out[1] == "unset" or int(out[1]) >= 1
    env["OMP_NUM_THREADS"] = "3"
    out = subprocess.run(
        [start, "bash", "-c", 'echo "$OMP_NUM_THREADS"'],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert out == "3", "a thread count the user set must be kept"


# ------------------------------------------------------------------ the README


def test_readme_has_the_binder_badge():
    readme = (ROOT / "README.md").read_text()
    badge = re.search(
        r"\[!\[[^\]]*\]\(https://mybinder\.org/badge_logo\.svg\)\]"
        r"\((https://mybinder\.org/v2/[^)\s]+)\)",
        readme,
    )
    assert badge, "README.md has no Binder badge"
    assert "urlpath=lab/tree/notebooks" in badge.group(1).replace("%2F", "/"), (
        f"the Binder badge should open JupyterLab on notebooks/: {badge.group(1)}"
    )
