"""The duplicates index attacked as a new user would: uploads racing in threads, a re-upload between the
claim and the lookup, throttling and unprocessed keys, every distance, buckets of 1 and of 64 entries.

Threads share one client whose calls are serialized: moto's conditional writes are not atomic across
threads (two "winners" are seen), which would make a race test lie about DynamoDB.
"""

from __future__ import annotations

import random
import threading
import uuid

import pytest
from botocore.exceptions import ClientError

from components.settings.config import WorkflowSettings
from contract.errors import TransientError, UploadSuperseded
from handlers.image import fingerprints
from handlers.lifecycle import duplicates
from handlers.lifecycle.duplicates import Index, NearDuplicate, Upload
from local.metering import MeteredDynamoDB

# The table, the hashes and the workflow's status writes of the index's own tests (`dynamodb`: conftest).
from tests.functional.test_duplicates_index import DISTANCE, P1, P2, TABLE, USER, set_status, sha

NEAR_P2_ONLY = P2 ^ 1 << 55  # one bit from P2, two from P1: shares with P1 only the bands P2 shares with it
UNRELATED = 0xFEDC_BA98_7654_3210


class Serialized:
    """A client whose calls run one at a time, as DynamoDB applies a conditional write atomically."""

    def __init__(self, dynamodb) -> None:
        self.dynamodb, self.lock = dynamodb, threading.Lock()

    def __getattr__(self, name):
        method = getattr(self.dynamodb, name)

        def call(**kwargs):
            with self.lock:
                return method(**kwargs)
        return call


def process(dynamodb, upload: Upload, content: int, phash: int, distance: int = DISTANCE,
            candidates: int = 16) -> tuple[str | None, NearDuplicate | None]:
    """The variants step's claim and lookup through one index, as `handlers.variants` makes them."""
    set_status(dynamodb, upload, "processing")
    index = Index(dynamodb, TABLE, candidates=candidates)
    original = index.claim(upload, sha(content))
    near = index.near(upload, phash, sha(content), distance)
    set_status(dynamodb, upload, "completed", content, phash)
    return (original and original.image_id), near


def in_threads(work, *arguments: tuple) -> list:
    """`work(*each)` for each of `arguments`, all started at once in threads: their results, in order."""
    barrier = threading.Barrier(len(arguments))
    results: list = [None] * len(arguments)
    errors: list[BaseException] = []

    def run(position: int, each: tuple) -> None:
        barrier.wait()
        try:
            results[position] = work(*each)
        except BaseException as error:
            errors.append(error)
    threads = [threading.Thread(target=run, args=(position, each)) for position, each in enumerate(arguments)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return results


def late_run(dynamodb, upload: Upload, content: int, phash: int) -> None:
    """An upload's claim and lookup that may lose its image to a newer upload on the way."""
    try:
        index = Index(dynamodb, TABLE)
        index.claim(upload, sha(content))
        index.near(upload, phash, sha(content), DISTANCE)
    except UploadSuperseded:
        pass


# What held.

def test_of_three_uploads_of_the_same_bytes_at_once_exactly_one_is_the_original(dynamodb, monkeypatch):
    monkeypatch.setattr(duplicates, "ORIGINAL_WAIT_SECONDS", 5)
    serialized = Serialized(dynamodb)
    for trial in range(8):
        uploads = [Upload(f"user-{trial}", f"copy-{n}", f"upload-{n}") for n in range(3)]
        found = in_threads(process, *((serialized, upload, 1, P1 ^ 1 << 3 * n) for n, upload in enumerate(uploads)))
        originals = [upload.image_id for upload, (original, _) in zip(uploads, found, strict=True) if original is None]
        assert len(originals) == 1 and {original for original, _ in found} == {None, *originals}, found


def test_of_three_near_duplicates_processed_at_once_at_most_the_first_writer_finds_none(dynamodb):
    serialized = Serialized(dynamodb)
    for trial in range(8):
        uploads = [Upload(f"user-{trial}", f"shot-{n}", f"upload-{n}") for n in range(3)]
        found = in_threads(process, *((serialized, upload, 10 + n, P1 ^ 1 << 7 * n + 1)
                                      for n, upload in enumerate(uploads)))
        assert sum(near is None for _, near in found) <= 1, found


def test_a_newer_upload_racing_the_older_run_is_what_later_uploads_find(dynamodb):
    serialized = Serialized(dynamodb)
    for trial in range(8):
        user = f"user-{trial}"
        older, newer = Upload(user, "a", "version-1"), Upload(user, "a", "version-2")
        set_status(serialized, older, "processing")
        in_threads(lambda run, *each: run(*each), (late_run, serialized, older, 1, P1),
                   (process, serialized, newer, 2, P2))
        assert process(dynamodb, Upload(user, "copy", "upload-3"), 2, UNRELATED)[0] == "a"
        assert process(dynamodb, Upload(user, "old-bytes", "upload-4"), 1, UNRELATED ^ 1)[0] is None
        assert process(dynamodb, Upload(user, "similar", "upload-5"), 5, P2 ^ 1)[1] == NearDuplicate("a", 1)


class Throttled:
    """A client that throttles a fifth of the calls and leaves part of a BatchGetItem's keys unprocessed."""

    def __init__(self, dynamodb, seed: int) -> None:
        self.dynamodb, self.rng = dynamodb, random.Random(seed)

    def __getattr__(self, name):
        method = getattr(self.dynamodb, name)

        def call(**kwargs):
            if self.rng.random() < 0.2:
                raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"},
                                   "ResponseMetadata": {"HTTPStatusCode": 400}}, name)
            if name != "batch_get_item":
                return method(**kwargs)
            request = kwargs["RequestItems"][TABLE]
            cut = self.rng.randrange(len(request["Keys"]) + 1)
            response = (method(RequestItems={TABLE: request | {"Keys": request["Keys"][:cut]}}) if cut
                        else {"Responses": {TABLE: []}})
            if cut < len(request["Keys"]):
                response["UnprocessedKeys"] = {TABLE: request | {"Keys": request["Keys"][cut:]}}
            return response
        return call


def test_throttling_and_unprocessed_keys_only_delay_the_answers_an_unthrottled_index_gives(dynamodb):
    rng = random.Random(24)
    hashes = [P1 ^ rng.getrandbits(64) & rng.getrandbits(64) & rng.getrandbits(64) & rng.getrandbits(64)
              for _ in range(30)]
    answers = {}
    for user in ("calm", "throttled"):
        answers[user] = []
        for n, phash in enumerate(hashes):
            upload = Upload(user, f"photo-{n}", f"upload-{n}")
            set_status(dynamodb, upload, "processing")
            for attempt in range(100):  # the workflow retries the step on TransientError
                index = Index(Throttled(dynamodb, attempt * 100 + n) if user == "throttled" else dynamodb, TABLE)
                try:
                    answer = (index.claim(upload, sha(n % 7)), index.near(upload, phash, sha(n % 7), DISTANCE))
                    break
                except TransientError:
                    continue
            set_status(dynamodb, upload, "completed", n % 7, phash)
            answers[user].append(((answer[0] and answer[0].image_id), answer[1]))
    assert answers["throttled"] == answers["calm"]
    assert sum(near is not None for _, near in answers["calm"]) > 10


@pytest.mark.parametrize("distance", [0, 7])
def test_every_pair_within_the_distance_is_found_with_buckets_of_one_entry(dynamodb, distance):
    rng = random.Random(distance)
    for trial in range(40):
        first = rng.getrandbits(64) | 0xFF  # informative: enough bits set and cleared
        first &= ~(0xFF << 8)
        second = first ^ sum(1 << bit for bit in rng.sample(range(64), rng.randint(0, distance)))
        user = f"user-{trial}"
        process(dynamodb, Upload(user, "first", "upload-1"), 1, first, distance, candidates=1)
        found = process(dynamodb, Upload(user, "second", "upload-2"), 2, second, distance, candidates=1)[1]
        assert found == NearDuplicate("first", fingerprints.hamming(first, second)), (hex(first), hex(second))


# What broke.

def test_a_reupload_of_the_original_between_the_claim_and_the_lookup_is_found_and_stays_findable(dynamodb):
    process(dynamodb, Upload(USER, "c", "upload-1"), 1, P1)
    copy = Upload(USER, "a", "upload-2")
    set_status(dynamodb, copy, "processing")
    index = Index(dynamodb, TABLE)  # one index for the claim and the lookup, as in `handlers.variants`
    assert index.claim(copy, sha(1)).image_id == "c"
    process(dynamodb, Upload(USER, "c", "upload-3"), 2, P2)  # `c` edited and uploaded again meanwhile
    assert index.near(copy, P1, sha(1), DISTANCE) == NearDuplicate("c", 1)
    set_status(dynamodb, copy, "completed", 1, P1)
    # `c`'s new entry is still in the buckets the copy rewrote: the closer `c` is found, not the copy.
    assert process(dynamodb, Upload(USER, "z", "upload-4"), 3, NEAR_P2_ONLY)[1] == NearDuplicate("c", 1)


class ReuploadBeforeTheFirstWrite:
    """A client through which `upload` (a new upload of an image whose earlier upload failed) runs whole
    just before the lookup's first bucket write: after the lookup found the earlier upload stale. The other
    upload runs through `other_client` (default: the same client)."""

    def __init__(self, dynamodb, upload: Upload, content: int, phash: int, other_client=None) -> None:
        self.dynamodb, self.upload, self.content, self.phash, self.done = dynamodb, upload, content, phash, False
        self.other_client = other_client or dynamodb

    def put_item(self, **kwargs):
        if not self.done and kwargs["Item"]["userId"]["S"].endswith("/bucket"):
            self.done = True
            process(self.other_client, self.upload, self.content, self.phash)
        return self.dynamodb.put_item(**kwargs)

    def __getattr__(self, name):
        return getattr(self.dynamodb, name)


def test_the_later_of_two_near_duplicates_finds_a_new_upload_of_an_image_it_found_stale(dynamodb):
    failed = Upload(USER, "c", "upload-1")
    set_status(dynamodb, failed, "processing")
    Index(dynamodb, TABLE).near(failed, P1, sha(1), DISTANCE)
    set_status(dynamodb, failed, "failed")
    later = Upload(USER, "a", "upload-2")
    set_status(dynamodb, later, "processing")
    meanwhile = ReuploadBeforeTheFirstWrite(dynamodb, Upload(USER, "c", "upload-3"), 2, P2)
    assert Index(meanwhile, TABLE).near(later, P1, sha(5), DISTANCE) == NearDuplicate("c", 1)
    set_status(dynamodb, later, "completed", 5, P1)
    assert process(dynamodb, Upload(USER, "z", "upload-4"), 3, NEAR_P2_ONLY)[1] == NearDuplicate("c", 1)


def test_a_lost_race_costs_a_bucket_read_and_write_and_one_read_of_each_image_that_entered_it(dynamodb):
    # Four stale entries (near shots since uploaded anew, unrelated) use the lookup's four status checks.
    for n, bit in enumerate((5, 20, 33, 46)):  # one in each of four bands: every bucket of P1 exists
        process(dynamodb, Upload(USER, f"stale-{n}", "upload-1"), 10 + n, P1 ^ 1 << bit)
    for n in range(4):
        process(dynamodb, Upload(USER, f"stale-{n}", "upload-2"), 20 + n, UNRELATED ^ 1 << n)
    later = Upload(USER, "a", "upload-3")
    set_status(dynamodb, later, "processing")
    meter = MeteredDynamoDB(dynamodb, size_writes=False)
    meanwhile = ReuploadBeforeTheFirstWrite(meter, Upload(USER, "b", "upload-4"), 2, P1, other_client=dynamodb)
    found = Index(meanwhile, TABLE).near(later, P1, sha(5), DISTANCE)
    assert found == NearDuplicate("b", 0)
    used = meter.snapshot()
    # Owner, 5 buckets, 4 stale checks (d + 6), then per lost race (5) a bucket read, and `b` once.
    assert (used.reads, used.writes, used.calls["put_item"]) == (DISTANCE + 6 + 5 + 1, DISTANCE + 1, 10)


def test_a_bucket_of_the_most_candidates_keeps_that_many_newest_uploads_with_uuid_names(dynamodb):
    # `near_duplicate_candidates` accepts up to 32: 4 KB hold about 42 entries named by UUIDs (64 did not fit).
    name = lambda n: str(uuid.UUID(int=n))  # noqa: E731
    most = WorkflowSettings.__dataclass_fields__["near_duplicate_candidates"].metadata["max"]
    process(dynamodb, Upload(USER, name(0), uuid.UUID(int=10**6).hex), 1, P1, candidates=most)
    rng = random.Random(64)
    for n in range(1, most):  # the newer uploads sharing only the first band with P1: it stays the oldest kept
        process(dynamodb, Upload(USER, name(n), uuid.UUID(int=10**6 + n).hex), 100 + n,
                P1 & ~((1 << 51) - 1) | rng.getrandbits(51), candidates=most)
    probe = P1 ^ (1 << 50 | 1 << 37 | 1 << 24 | 1 << 11)  # a bit in each other band: shares the first only
    found = process(dynamodb, Upload(USER, name(999), uuid.UUID(int=7).hex), 2, probe, candidates=most)[1]
    assert found == NearDuplicate(name(0), 4)
