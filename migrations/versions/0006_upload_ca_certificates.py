"""HTTPS upload channels trust the CA certificates given on the contract

Revision ID: 0006_upload_ca_certificates
Revises: 0005_upload_receipts
Create Date: 2026-11-21 11:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0006_upload_ca_certificates"
down_revision = "0005_upload_receipts"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("upload_ca_certificates", sa.Text(), nullable=False,
                                      server_default=sa.text("''")))


def downgrade():
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.drop_column("upload_ca_certificates")
