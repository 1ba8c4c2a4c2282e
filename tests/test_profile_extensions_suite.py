"""Extension schemas, suite side: a vendor field the profile declares is validated where present
(a wrongly shaped content_filter_results fails under hicap-v2), and ignored under generic."""

from tests.fakes import reference_proxy
from tests.harness import run_suite

SUITE = "suites/test_extensions.py"
SELECT = ("-k", "declared_vendor_fields")


def _wrong_content_filter(payload, req):
    if "choices" in payload:
        for choice in payload["choices"]:
            choice["content_filter_results"] = {"hate": {"filtered": "no", "severity": "none"}}
    return payload


def test_a_wrongly_shaped_declared_field_fails_under_its_profile():
    run = run_suite(SUITE, against=reference_proxy(body=_wrong_content_filter), args=("--profile=hicap-v2", *SELECT))
    run.assert_fails({"ext.declared-field-schema"})


def test_the_same_field_is_ignored_under_generic():
    run = run_suite(SUITE, against=reference_proxy(body=_wrong_content_filter), args=("--profile=generic", *SELECT))
    assert run.returncode == 0 and "ext.declared-field-schema" not in run.failed_requirements(), run.summary()


def test_well_shaped_fields_pass_under_the_profile():
    import dataclasses

    from chatconform.reference.config import ServerConfig

    emulation = reference_proxy(server_config=ServerConfig(profile="hicap-v2"))

    def under_v2(req):  # the harness serves /v1; the emulation lives under /v2/openai
        return emulation(dataclasses.replace(req, path=req.path.replace("/v1/", "/v2/openai/", 1)))

    run = run_suite(SUITE, against=under_v2, args=("--profile=hicap-v2", "--auth-style=api-key", *SELECT))
    run.assert_clean()
    assert "judged" in run.notes().get("ext.declared-field-schema", ""), run.notes()
