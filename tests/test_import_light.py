"""The runtime must not import the toolchain (torch) or the GPU stack (tensorrt)."""
import subprocess
import sys

HEAVY = ("torch", "tensorrt", "h5py", "matplotlib", "onnx", "cuda", "ray", "pyarrow")


def _modules_after(code: str) -> set[str]:
    """Modules that ``code`` adds to a fresh interpreter. What the interpreter already has at
    start-up is not the SDK's doing (cuda-python installs a .pth file that imports a ``cuda``
    redirector into every Python process)."""
    out = subprocess.run([sys.executable, "-c", "import sys\n_before = set(sys.modules)\n" + code
                          + "\nimport sys\nprint(' '.join(set(sys.modules) - _before))"],
                         check=True, capture_output=True, text=True).stdout
    return set(out.split())


def test_import_package_is_light():
    mods = _modules_after("import agegender_edge")
    assert not [m for m in HEAVY if m in mods]
    assert "onnxruntime" not in mods and "cv2" not in mods  # loaded only when a Predictor is built


def test_predictor_import_and_cli_help_do_not_load_torch_or_tensorrt():
    mods = _modules_after("from agegender_edge import Predictor\n"
                          "from click.testing import CliRunner\n"
                          "from agegender_edge.cli.main import cli\n"
                          "r = CliRunner().invoke(cli, ['predict', '--help']); assert r.exit_code == 0, r.output\n"
                          "r = CliRunner().invoke(cli, ['--help']); assert r.exit_code == 0, r.output")
    assert "agegender_edge.predictor" in mods
    assert not [m for m in HEAVY if m in mods]


def test_label_api_and_cli_help_do_not_load_ray_or_pyarrow():
    """`agegender-edge label` needs the [distributed] extra only when it runs, not to be listed or helped."""
    mods = _modules_after("import agegender_edge.label\n"
                          "from click.testing import CliRunner\n"
                          "from agegender_edge.cli.main import cli\n"
                          "r = CliRunner().invoke(cli, ['label', '--help']); assert r.exit_code == 0, r.output")
    assert "agegender_edge.label.api" in mods
    assert not [m for m in HEAVY if m in mods]
