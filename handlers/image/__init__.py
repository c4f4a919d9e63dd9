"""The image core, bytes in and bytes out: decode, colour, crops, animation, EXIF, encoding, fingerprints.
No AWS here; `imaging.make_variants_and_smallest(data, recipe)` takes one `contract.recipe.Recipe`."""
