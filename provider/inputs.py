"""The provider's input mapping, kept whole so the component can judge every input.

Pulumi's `ComponentProvider.map_inputs` keeps only the keys the schema knows and turns a section that
is not a plain mapping (a typo's value, a string, a secret or another resource's output) into `{}`:
a misspelled or secret `network` would deploy without a VPC and without a word. Here camelCase keys
the schema knows become their Python names and everything else is passed on as it came, so the
component's validation names each unknown key, wrong type and unknown value, all at once.

Every component it serves is built with `camel_case_keys=True`, so that its problems name the keys as
other languages spell them; the Python program (`__main__.py`) builds it without, in snake_case.
"""

import functools
from typing import Any

from pulumi.provider.experimental.analyzer import ComponentDefinition, PropertyDefinition
from pulumi.provider.experimental.component import ComponentProvider
from pulumi.resource import ComponentResource


class ImagePipelineProvider(ComponentProvider):
    def __init__(self, components: list[type[ComponentResource]], name: str, namespace: str | None = None,
                 version: str = "0.0.0") -> None:
        super().__init__(components, name, namespace, version)
        # The SDK builds each component as `constructor(name, args, opts)`: the option is bound here.
        self._components = {component: functools.partial(constructor, camel_case_keys=True)
                            for component, constructor in self._components.items()}

    def map_inputs(self, inputs: Any, component_def: ComponentDefinition) -> Any:
        return self._python_names(inputs, component_def.inputs, component_def.inputs_mapping)

    def _python_names(self, value: Any, properties: dict[str, PropertyDefinition], mapping: dict[str, str]) -> Any:
        if not isinstance(value, dict):
            return value
        named: dict[str, Any] = {}
        for key, item in value.items():
            prop = properties.get(key)
            section = self.get_type_definition(prop) if prop is not None and prop.ref else None
            if section is not None and not section.enum:
                item = self._python_names(item, section.properties, section.properties_mapping)
            named[mapping.get(key, key)] = item
        return named
