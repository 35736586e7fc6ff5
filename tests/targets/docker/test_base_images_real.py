"""The missing-base-image message names the command to run, filled in (issue 16 item 7)."""

from __future__ import annotations

import pytest

from modelpack.targets.base import BaseImageError
from modelpack.targets.docker.base_images import python_version

pytestmark = pytest.mark.real


def test_missing_base_image_names_the_command_to_build_it() -> None:
    with pytest.raises(BaseImageError) as caught:
        python_version("modelpack-test/no-such-base:3.11")
    message = str(caught.value)
    assert "`scripts/base-image.sh modelpack-test/no-such-base:3.11`" in message
    assert "{image}" not in message
