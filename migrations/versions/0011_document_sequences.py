"""receivables: gapless number sequences per document kind and year

Revision ID: 0011_document_sequences
Revises: 0010_discount_lines
Create Date: 2026-12-04 01:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0011_document_sequences"
down_revision = "0010_discount_lines"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "document_sequences",
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "year"),
    )


def downgrade():
    op.drop_table("document_sequences")
