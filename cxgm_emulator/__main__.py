"""`python -m cxgm_emulator`: the same as the `cxgm-emulator` console script."""

from cxgm_emulator.cli import app

if __name__ == "__main__":
    app(prog_name="cxgm-emulator")
