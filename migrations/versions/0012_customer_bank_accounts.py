"""customers keep the bank accounts they pay from (payments are matched to customers by IBAN)

Revision ID: 0012_customer_bank_accounts
Revises: 0011_document_sequences
Create Date: 2026-12-04 02:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0012_customer_bank_accounts"
down_revision = "0011_document_sequences"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "customer_bank_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("iban", sa.String(length=34), nullable=False),
        sa.Column("bic", sa.String(length=11), nullable=False),
        sa.Column("holder", sa.String(length=140), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("iban"),
    )
    op.create_index(op.f("ix_customer_bank_accounts_customer_id"), "customer_bank_accounts", ["customer_id"])


def downgrade():
    op.drop_index(op.f("ix_customer_bank_accounts_customer_id"), table_name="customer_bank_accounts")
    op.drop_table("customer_bank_accounts")
