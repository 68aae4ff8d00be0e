from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Post(models.Model):
    """A platform's post, as reported to Debunk: the post archive shared by matching (suspected matches),
    corrections (exposures) and tracing (authors, parents, times). Authors are kept only as a keyed HMAC of
    the platform's pseudonymous id (see debunk.core.pseudonyms). An image post keeps its picture (`image`, for the
    reviewers of a suspected match and for tracing) and the text read from it (`ocr_text`); `text` is what the
    platform sent with it, possibly empty."""

    platform = models.ForeignKey(
        "debunk.Platform", verbose_name=_("platform"), on_delete=models.PROTECT, related_name="posts"
    )
    platform_post_id = models.CharField(_("platform post id"), max_length=128, blank=True)
    text = models.TextField(_("text"))
    image = models.FileField(_("image"), upload_to="posts/%Y/%m/", blank=True)
    image_sha256 = models.CharField(_("image SHA-256"), max_length=64, blank=True)
    ocr_text = models.TextField(_("text read from the image"), blank=True)
    image_pdq = models.BinaryField(_("image PDQ hash"), max_length=32, null=True, blank=True)
    image_quality = models.PositiveSmallIntegerField(_("image PDQ quality"), null=True, blank=True)
    author_hash = models.CharField(_("author (HMAC)"), max_length=64, blank=True)
    posted_at = models.DateTimeField(_("posted at"), null=True, blank=True)
    parent_platform_post_id = models.CharField(_("reposts (platform post id)"), max_length=128, blank=True)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("reposts"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reposts",
        db_index=False,  # partial index below
    )
    archived = models.BooleanField(
        _("in the archive"), default=False, help_text=_("Reported for tracking (POST /posts), not only matched.")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("post")
        verbose_name_plural = _("posts")
        # The archive's columns are empty on the posts the match API queues (most rows on a busy platform): their
        # indexes are partial, so those rows cost no index writes and no index space.
        indexes = [
            models.Index(
                fields=["platform", "parent_platform_post_id"],
                name="debunk_post_parent_ref",
                condition=~models.Q(parent_platform_post_id=""),
            ),
            models.Index(fields=["author_hash"], name="post_author", condition=~models.Q(author_hash="")),
            models.Index(fields=["posted_at"], name="post_posted_at", condition=models.Q(posted_at__isnull=False)),
            models.Index(fields=["parent"], name="post_parent", condition=models.Q(parent__isnull=False)),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "platform_post_id"],
                condition=~models.Q(platform_post_id=""),
                name="post_unique_platform_id",
            ),
        ]

    def __str__(self) -> str:
        return self.text[:40]


class Fingerprint(models.Model):
    """The stored fingerprint of one text (a rumor's claim or variant, or a post), so that the match
    index rebuilds without rehashing. Arrays are little-endian uint32 bytes."""

    class Source(models.TextChoices):
        CLAIM = "claim", _("claim")
        VARIANT = "variant", _("variant")
        POST = "post", _("post")

    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    rumor = models.ForeignKey(
        "debunk.Rumor",
        verbose_name=_("rumor"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="fingerprints",
    )
    variant = models.OneToOneField(
        "debunk.RumorVariant",
        verbose_name=_("variant"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="fingerprint",
    )
    post = models.OneToOneField(
        Post, verbose_name=_("post"), null=True, blank=True, on_delete=models.CASCADE, related_name="fingerprint"
    )
    algorithm = models.CharField(_("algorithm"), max_length=40)
    normalized_length = models.PositiveIntegerField(_("normalised length"))
    exact_hash = models.CharField(_("exact hash"), max_length=64, db_index=True)
    signature = models.BinaryField(_("MinHash signature"), null=True, blank=True)
    shingles = models.BinaryField(_("shingle hashes"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("fingerprint")
        verbose_name_plural = _("fingerprints")
        constraints = [
            models.UniqueConstraint(
                fields=["rumor"], condition=models.Q(source="claim"), name="fingerprint_one_claim_per_rumor"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.rumor_id or self.post_id}"


class IndexChange(models.Model):
    """Append-only log of rumors whose matching changed; the largest id is the match index's version.

    Written in the same transaction as the change. Each serving process applies the rumors changed after
    its own version as deltas (at most once per MATCH_INDEX_POLL_SECONDS), and reopens a fresh snapshot
    when the deltas grow, so every process on every machine serves a change within seconds.
    """

    rumor_id = models.BigIntegerField(_("rumor id"), null=True, blank=True, help_text=_("Empty: reload everything."))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("match index change")
        verbose_name_plural = _("match index changes")

    def __str__(self) -> str:
        return f"#{self.pk} rumor {self.rumor_id}"


class Match(models.Model):
    """A post found to carry a rumor. Suspected ones (between the review and auto thresholds) form the
    fact-checkers' queue; confirming adds the post's text as a variant, rejecting allow-lists it."""

    class Status(models.TextChoices):
        SUSPECTED = "suspected", _("suspected")
        CONFIRMED = "confirmed", _("confirmed")
        REJECTED = "rejected", _("rejected")
        AUTO = "auto", _("matched automatically")

    post = models.ForeignKey(
        Post,
        verbose_name=_("post"),
        on_delete=models.CASCADE,
        related_name="matches",
        db_index=False,  # the unique (post, rumor) index serves lookups by post
    )
    rumor = models.ForeignKey("debunk.Rumor", verbose_name=_("rumor"), on_delete=models.CASCADE, related_name="matches")

    class Via(models.TextChoices):
        TEXT = "text", _("text")
        IMAGE_HASH = "image_hash", _("image hash")
        OCR = "ocr", _("text in the image")

    class Stage(models.TextChoices):
        NEAR_DUPLICATE = "near_duplicate", _("near-duplicate")
        CLAIM = "claim", _("claim (reworded)")
        SEMANTIC = "semantic", _("semantic suggestion")

    similarity = models.FloatField(_("similarity"))
    containment = models.FloatField(_("containment"))
    stage = models.CharField(
        _("stage"),
        max_length=16,
        choices=Stage.choices,
        default=Stage.NEAR_DUPLICATE,
        db_default=Stage.NEAR_DUPLICATE,  # the match path's plain INSERTs may leave it out
        help_text=_("Which matcher found it: near-duplicate copies, the claim tier (rewordings), or semantic search."),
    )
    rank = models.PositiveSmallIntegerField(
        _("rank"), null=True, blank=True, help_text=_("A suggestion's place among the post's candidates (1 = best).")
    )
    evidence = models.JSONField(
        _("evidence"), null=True, blank=True, help_text=_("The distinctive terms the post shares with the rumor.")
    )
    via = models.CharField(_("found via"), max_length=10, choices=Via.choices, default=Via.TEXT)
    distance = models.PositiveSmallIntegerField(
        _("image hash distance"), null=True, blank=True, help_text=_("Bits of 256 (matches via the image hash).")
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, db_index=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # partial index below: most matches are never decided by hand
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("match")
        verbose_name_plural = _("matches")
        constraints = [models.UniqueConstraint(fields=["post", "rumor"], name="match_unique_post_rumor")]
        indexes = [
            models.Index(fields=["decided_by"], name="match_decided_by", condition=models.Q(decided_by__isnull=False))
        ]

    def __str__(self) -> str:
        return f"{self.post_id} → {self.rumor_id} ({self.status})"


# The one definition of a post that carries a rumor: matched automatically or confirmed by a fact-checker
# (not a suspicion still waiting, nor a rejected one). Corrections, exposures, tracing and sanctions count these.
MATCHED_STATUSES: tuple[str, ...] = (Match.Status.AUTO, Match.Status.CONFIRMED)


class AllowListEntry(models.Model):
    """A text that fact-checkers judged not to carry a rumor: the same normalised text stops matching it."""

    rumor = models.ForeignKey(
        "debunk.Rumor", verbose_name=_("rumor"), on_delete=models.CASCADE, related_name="allow_list"
    )
    exact_hash = models.CharField(_("exact hash of the normalised text"), max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("allow-list entry")
        verbose_name_plural = _("allow-list")
        constraints = [models.UniqueConstraint(fields=["rumor", "exact_hash"], name="allowlist_unique")]

    def __str__(self) -> str:
        return f"{self.rumor_id}:{self.exact_hash[:12]}"
