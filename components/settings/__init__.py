"""The component's settings: the typed sections (`config`), parsing, AWS's rules, pitfalls, prices, loading
from a stack, and the generated settings and outputs tables. Pulumi only where a value may be an output
(`loading`), in the package's typed inputs (`args`) and for the schema's spelling of names (`docs`)."""
