"""The rules of an image's life on AWS: upload identity and order, conditional status writes, repairs, the
duplicate index, dead letters, publication of moderated variants, S3 reads and writes, shared clients."""
