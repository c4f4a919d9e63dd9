"""Each function reads its settings from the variables the component writes: all of them, or it names the missing."""

from __future__ import annotations

import dataclasses
import re

import pytest

from components import Settings
from components.environment import function_environment, function_settings
from contract.environment import MissingSettings, from_env, to_env, variables
from contract.functions import FUNCTIONS, VariantsSettings
from contract.recipe import Recipe

RESOURCES = {"queue_url": "https://sqs/q", "dlq_url": "https://sqs/d", "table_name": "status", "topic_arn": "arn:sns",
             "state_machine_arn": "arn:aws:states:eu-west-1:1:stateMachine:m", "output_bucket": "output"}
ENVIRONMENTS = function_environment(Settings(), **RESOURCES)
# A stack that changes every part of the recipe, and the digest the variants step stored for it before its
# settings came from the contract (`StepSettings.recipe`): `variantRecipe` must never change for equal recipes.
NON_DEFAULT_RECIPE = {"VARIANT_SIZES": "1024,320", "VARIANT_FORMATS": "jpeg,webp,avif", "JPEG_QUALITY": "80",
                      "WEBP_QUALITY": "75", "AVIF_QUALITY": "50", "AVIF_SPEED": "4", "SQUARE_SIZES": "256,96",
                      "SQUARE_CROP": "entropy", "ANIMATION": "animated_webp", "MAX_ANIMATION_FRAMES": "120",
                      "MAX_ANIMATION_PIXELS": "9000000", "KEEP_GPS": "true", "CACHE_CONTROL": "public, max-age=600"}


@pytest.mark.parametrize(("function", "variable"), [(name, variable) for name, cls in FUNCTIONS.items()
                                                    for variable in variables(cls)])
def test_a_function_missing_any_one_variable_is_refused_naming_it(function, variable):
    environment = {name: value for name, value in ENVIRONMENTS[function].items() if name != variable}
    with pytest.raises(MissingSettings, match=rf"^{FUNCTIONS[function].__name__}: {variable} is not set \(") as raised:
        from_env(FUNCTIONS[function], environment)
    assert re.findall(r"(\w+) is not set", str(raised.value)) == [variable]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_reads_back_exactly_the_settings_the_component_built(function):
    assert from_env(FUNCTIONS[function], ENVIRONMENTS[function]) == function_settings(Settings(), **RESOURCES)[function]
    assert to_env(from_env(FUNCTIONS[function], ENVIRONMENTS[function])) == ENVIRONMENTS[function]


def test_the_default_recipe_digest_is_the_one_stored_on_every_image_so_far():
    assert from_env(VariantsSettings, ENVIRONMENTS["variants"]).recipe_digest == "404097ed9af21b49"


def test_a_non_default_recipe_digest_is_the_one_the_variants_step_stored_before_the_contract():
    environment = ENVIRONMENTS["variants"] | NON_DEFAULT_RECIPE
    assert from_env(VariantsSettings, environment).recipe_digest == "2f8c3ba71c5151f2"


@pytest.mark.parametrize("variable", ["VARIANT_SIZES", "VARIANT_FORMATS"])
def test_a_recipe_with_no_sizes_or_no_formats_is_refused_naming_the_variable(variable):
    # Empty, the variants step would fail on every image (no sizes) or complete it with no variant (no formats).
    environment = ENVIRONMENTS["variants"] | {variable: ""}
    with pytest.raises(MissingSettings, match=rf"^VariantsSettings: {variable}='' cannot be read: "
                                              r"expected at least one item \("):
        from_env(VariantsSettings, environment)


def test_lists_a_stack_may_leave_empty_are_read_as_empty():
    environment = ENVIRONMENTS["variants"] | {"SQUARE_SIZES": "", "ALLOWED_FORMATS": ""}
    recipe = from_env(VariantsSettings, environment).recipe
    assert (recipe.square_sizes, recipe.limits.allowed_formats) == ((), ())


def test_a_value_that_cannot_be_read_is_refused_naming_the_variable_and_the_choices():
    from contract.environment import MissingSettings, from_env
    from contract.functions import OrchestratorSettings

    with pytest.raises(MissingSettings) as refused:
        from_env(OrchestratorSettings, {"STEP_FUNCTIONS_ARN": "arn", "WORKFLOW_TYPE": "standard",
                                        "DYNAMODB_TABLE": "t"})
    assert str(refused.value) == (
        "OrchestratorSettings: WORKFLOW_TYPE='standard' cannot be read: unknown workflow type 'standard'; one of: "
        "STANDARD, EXPRESS (the function's environment comes from the component: redeploy the stack)")


def _another(value):
    """A value of the same type as `value` that differs from it."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value + "-other"
    if isinstance(value, tuple):
        return (*value, 64) if not value or isinstance(value[0], int) else (*value, "webp")
    return dataclasses.replace(value, **{f.name: _another(getattr(value, f.name)) for f in dataclasses.fields(value)})


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(Recipe) if f.name != "limits"])
def test_every_field_that_shapes_the_variants_changes_the_recipe_digest(name):
    """`duplicates: reuse` copies a same-digest image's variants: a recipe field left out of the digest would
    copy variants made another way. `limits` only decides what is accepted, not how variants look."""
    base = VariantsSettings(output_bucket="b", table="t")
    changed = dataclasses.replace(base, recipe=dataclasses.replace(base.recipe, **{
        name: _another(getattr(base.recipe, name))}))
    assert changed.recipe_digest != base.recipe_digest
