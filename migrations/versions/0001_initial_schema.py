"""Initial schema: documents, jobs, chunks, verdicts, ledger, reviews, append-only audit log, API keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-27 07:23:51.629773
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('api_keys',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('requests_per_minute', sa.Integer(), nullable=True),
    sa.Column('tokens_per_minute', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('last_used_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_hash')
    )
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('subject_type', sa.String(length=32), nullable=True),
    sa.Column('subject_id', sa.String(length=128), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
        batch_op.create_index('ix_audit_subject', ['subject_type', 'subject_id'], unique=False)

    op.create_table('documents',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('source_id', sa.String(length=512), nullable=True),
    sa.Column('num_chars', sa.Integer(), nullable=False),
    sa.Column('redacted_text', sa.Text(), nullable=True),
    sa.Column('raw_text', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('content_hash')
    )
    op.create_table('manifests',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('text_sha256', sa.String(length=64), nullable=False),
    sa.Column('model_name', sa.String(length=512), nullable=True),
    sa.Column('watermark_key_id', sa.String(length=64), nullable=True),
    sa.Column('requester', sa.String(length=256), nullable=True),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('minhash', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('manifests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_manifests_text_sha256'), ['text_sha256'], unique=False)

    op.create_table('scan_jobs',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('inputs', sa.JSON(), nullable=False),
    sa.Column('bundle_version', sa.String(length=128), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('quarantined', sa.Integer(), nullable=False),
    sa.Column('duplicates', sa.Integer(), nullable=False),
    sa.Column('documents', sa.Integer(), nullable=False),
    sa.Column('reused', sa.Integer(), nullable=False),
    sa.Column('chunks_total', sa.Integer(), nullable=False),
    sa.Column('chunks_done', sa.Integer(), nullable=False),
    sa.Column('new_verdicts', sa.Integer(), nullable=False),
    sa.Column('submission_done', sa.Boolean(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('last_progress_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('worker_heartbeats',
    sa.Column('hostname', sa.String(length=256), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('concurrency', sa.Integer(), nullable=False),
    sa.Column('broker', sa.String(length=512), nullable=True),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('last_seen', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('hostname')
    )
    op.create_table('chunks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('job_id', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('worker', sa.String(length=256), nullable=True),
    sa.Column('lease_until', sa.DateTime(), nullable=True),
    sa.Column('enqueued_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['job_id'], ['scan_jobs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('chunks', schema=None) as batch_op:
        batch_op.create_index('ix_chunks_job_status', ['job_id', 'status'], unique=False)

    op.create_table('job_items',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('job_id', sa.String(length=32), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('source_id', sa.String(length=512), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('document_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('location', sa.String(length=1024), nullable=True),
    sa.Column('excerpt', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], ),
    sa.ForeignKeyConstraint(['job_id'], ['scan_jobs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('job_id', 'seq', name='uq_job_items_job_seq')
    )
    with op.batch_alter_table('job_items', schema=None) as batch_op:
        batch_op.create_index('ix_job_items_document', ['document_id'], unique=False)
        batch_op.create_index('ix_job_items_job_outcome', ['job_id', 'outcome'], unique=False)

    op.create_table('manifest_bands',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('manifest_id', sa.String(length=64), nullable=False),
    sa.Column('band', sa.Integer(), nullable=False),
    sa.Column('bucket', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['manifest_id'], ['manifests.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('manifest_bands', schema=None) as batch_op:
        batch_op.create_index('ix_manifest_bands_bucket', ['band', 'bucket'], unique=False)
        batch_op.create_index(batch_op.f('ix_manifest_bands_manifest_id'), ['manifest_id'], unique=False)

    op.create_table('rate_buckets',
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('level', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['key_id'], ['api_keys.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('key_id', 'name')
    )
    op.create_table('verdicts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('document_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('bundle_version', sa.String(length=128), nullable=False),
    sa.Column('job_id', sa.String(length=32), nullable=True),
    sa.Column('p_machine', sa.Float(), nullable=True),
    sa.Column('verdict', sa.String(length=16), nullable=False),
    sa.Column('margin', sa.Float(), nullable=True),
    sa.Column('detectors', sa.JSON(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('num_tokens', sa.Integer(), nullable=True),
    sa.Column('watermark', sa.JSON(), nullable=False),
    sa.Column('watermarked', sa.Boolean(), nullable=False),
    sa.Column('watermark_z', sa.Float(), nullable=True),
    sa.Column('watermark_p', sa.Float(), nullable=True),
    sa.Column('watermark_key_id', sa.String(length=64), nullable=True),
    sa.Column('ledger_manifest_id', sa.String(length=64), nullable=True),
    sa.Column('pii', sa.JSON(), nullable=False),
    sa.Column('pii_count', sa.Integer(), nullable=False),
    sa.Column('pii_types', sa.String(length=512), nullable=False),
    sa.Column('toxicity', sa.JSON(), nullable=True),
    sa.Column('p_toxic', sa.Float(), nullable=True),
    sa.Column('misuse', sa.Boolean(), nullable=False),
    sa.Column('models', sa.JSON(), nullable=False),
    sa.Column('needs_review', sa.Boolean(), nullable=False),
    sa.Column('review_priority', sa.Float(), nullable=False),
    sa.Column('review_status', sa.String(length=16), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('document_id', 'bundle_version', name='uq_verdicts_document_bundle')
    )
    with op.batch_alter_table('verdicts', schema=None) as batch_op:
        batch_op.create_index('ix_verdicts_job', ['job_id'], unique=False)
        batch_op.create_index('ix_verdicts_review', ['needs_review', 'review_priority'], unique=False)
        batch_op.create_index('ix_verdicts_verdict', ['verdict'], unique=False)

    op.create_table('review_decisions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('verdict_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reviewer', sa.String(length=128), nullable=False),
    sa.Column('decision', sa.String(length=32), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['verdict_id'], ['verdicts.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('review_decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_decisions_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_decisions_verdict_id'), ['verdict_id'], unique=False)

    op.create_table('review_leases',
    sa.Column('verdict_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reviewer', sa.String(length=128), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['verdict_id'], ['verdicts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('verdict_id')
    )
    with op.batch_alter_table('review_leases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_leases_expires_at'), ['expires_at'], unique=False)

    op.create_table('staged_texts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('chunk_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('document_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['chunk_id'], ['chunks.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('staged_texts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staged_texts_chunk_id'), ['chunk_id'], unique=False)

    _audit_log_append_only()


_SQLITE_TRIGGERS = [
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
]
_POSTGRES_TRIGGERS = [
    "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$",
    "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
]


def _audit_log_append_only() -> None:
    """The audit log refuses UPDATE and DELETE in the database itself, not only in the application."""
    dialect = op.get_bind().dialect.name
    statements = {"sqlite": _SQLITE_TRIGGERS, "postgresql": _POSTGRES_TRIGGERS}.get(dialect, [])
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_change ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    with op.batch_alter_table('staged_texts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staged_texts_chunk_id'))

    op.drop_table('staged_texts')
    with op.batch_alter_table('review_leases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_leases_expires_at'))

    op.drop_table('review_leases')
    with op.batch_alter_table('review_decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_decisions_verdict_id'))
        batch_op.drop_index(batch_op.f('ix_review_decisions_created_at'))

    op.drop_table('review_decisions')
    with op.batch_alter_table('verdicts', schema=None) as batch_op:
        batch_op.drop_index('ix_verdicts_verdict')
        batch_op.drop_index('ix_verdicts_review')
        batch_op.drop_index('ix_verdicts_job')

    op.drop_table('verdicts')
    op.drop_table('rate_buckets')
    with op.batch_alter_table('manifest_bands', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_manifest_bands_manifest_id'))
        batch_op.drop_index('ix_manifest_bands_bucket')

    op.drop_table('manifest_bands')
    with op.batch_alter_table('job_items', schema=None) as batch_op:
        batch_op.drop_index('ix_job_items_job_outcome')
        batch_op.drop_index('ix_job_items_document')

    op.drop_table('job_items')
    with op.batch_alter_table('chunks', schema=None) as batch_op:
        batch_op.drop_index('ix_chunks_job_status')

    op.drop_table('chunks')
    op.drop_table('worker_heartbeats')
    op.drop_table('scan_jobs')
    with op.batch_alter_table('manifests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_manifests_text_sha256'))

    op.drop_table('manifests')
    op.drop_table('documents')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_subject')
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))
        batch_op.drop_index(batch_op.f('ix_audit_log_action'))

    op.drop_table('audit_log')
    op.drop_table('api_keys')
