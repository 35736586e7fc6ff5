"""conda.yaml -> pip requirements."""

from __future__ import annotations

import pytest

from modelpack.assets import CondaConversionError, CondaFile, conda_to_pip


def convert(*dependencies: object) -> list[str]:
    conda = CondaFile.model_validate({"dependencies": list(dependencies)})
    return conda_to_pip(conda).requirements


@pytest.mark.parametrize(
    "conda, pip",
    [
        ("numpy=1.23.5", "numpy==1.23.5"),
        ("numpy==1.23.5", "numpy==1.23.5"),
        ("numpy=1.23", "numpy==1.23.*"),
        ("numpy=1.23.*", "numpy==1.23.*"),
        ("numpy=1.23.5=py39h5d0ccc0_0", "numpy==1.23.5"),
        ("numpy 1.23.5 py39h5d0ccc0_0", "numpy==1.23.5"),
        ("numpy>=1.20,<2", "numpy>=1.20,<2"),
        ("numpy >=1.20", "numpy>=1.20"),
        ("numpy", "numpy"),
        ("scikit-learn=1.2.2", "scikit-learn==1.2.2"),
        ("pytorch=2.1.0", "torch==2.1.0"),
        ("py-xgboost=1.7.6", "xgboost==1.7.6"),
        ("conda-forge::py-xgboost", "xgboost"),
        ("pytorch::pytorch=2.1", "torch==2.1.*"),
        ("matplotlib-base", "matplotlib"),
    ],
)
def test_conda_spec_becomes_pip_requirement(conda: str, pip: str) -> None:
    assert convert(conda) == [pip]


def test_python_and_pip_are_returned_apart() -> None:
    conda = CondaFile.model_validate(
        {"dependencies": ["python=3.11", "pip=23.3.1", "numpy=1.26.4"]}
    )
    result = conda_to_pip(conda)
    assert (result.python, result.pip) == ("3.11", "23.3.1")
    assert result.requirements == ["numpy==1.26.4"]


def test_python_range_is_kept_as_written() -> None:
    result = conda_to_pip(CondaFile.model_validate({"dependencies": ["python>=3.10"]}))
    assert result.python == ">=3.10" and result.pip is None


def test_pip_section_is_appended_verbatim() -> None:
    assert convert(
        "numpy=1.26.4", {"pip": ["requests==2.31.0", "azureml-inference-server-http"]}
    ) == [
        "numpy==1.26.4",
        "requests==2.31.0",
        "azureml-inference-server-http",
    ]


def test_packages_without_pip_equivalent_are_reported_together() -> None:
    conda = CondaFile.model_validate(
        {
            "dependencies": [
                "python=3.9",
                "cudatoolkit=11.8",
                "numpy",
                "mkl",
                "libgcc",
                "openmpi=4.1",
                "_libgcc_mutex=0.1=main",
                "nvidia::cuda-toolkit",
            ]
        }
    )
    with pytest.raises(CondaConversionError) as caught:
        conda_to_pip(conda)
    assert caught.value.packages == [
        "cudatoolkit=11.8",
        "mkl",
        "libgcc",
        "openmpi=4.1",
        "_libgcc_mutex=0.1=main",
        "nvidia::cuda-toolkit",
    ]
    message = str(caught.value)
    assert "cudatoolkit=11.8 (dependencies[1]: no pip equivalent)" in message
    assert "nvidia::cuda-toolkit (dependencies[7]" in message
    assert "\n" not in message


def test_alternatives_have_no_pip_form() -> None:
    with pytest.raises(CondaConversionError, match=r"numpy=1\.1\|1\.2"):
        convert("numpy=1.1|1.2")


def test_unknown_conda_file_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="extra"):
        CondaFile.model_validate({"dependencies": [], "variables": {"A": "1"}})
