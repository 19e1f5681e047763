import pytest

from tests.conftest import VARIANTS


@pytest.fixture(scope="module", params=VARIANTS, ids=lambda v: f"{v[0]}-{v[1]}")
def account(request, variant_emulator, tmp_path_factory):
    """(env, truth) of an emulator of each production variant, with a frame store of the module's own."""
    env, truth = variant_emulator(*request.param)
    return {**env, "CXGM_DATA": str(tmp_path_factory.mktemp("data"))}, truth
