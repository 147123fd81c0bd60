"""contracts carry the customer's order number and buyer reference, the CSV format and the portal's formats

Revision ID: 0008_contract_references
Revises: 0007_timer_failures
Create Date: 2026-11-22 09:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0008_contract_references"
down_revision = "0007_timer_failures"
branch_labels = None
depends_on = None


def upgrade():
    # Existing contracts keep what they had: no references, the CSV as it was written, PDF and UBL in the portal.
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("portal_formats", sa.String(length=100), nullable=False,
                                      server_default=sa.text("'pdf,ubl'")))
        batch_op.add_column(sa.Column("purchase_order_number", sa.String(length=35), nullable=False,
                                      server_default=sa.text("''")))
        batch_op.add_column(sa.Column("buyer_reference", sa.String(length=100), nullable=False,
                                      server_default=sa.text("''")))
        batch_op.add_column(sa.Column("csv_delimiter", sa.String(length=1), nullable=False,
                                      server_default=sa.text("';'")))
        batch_op.add_column(sa.Column("csv_decimal_separator", sa.String(length=1), nullable=False,
                                      server_default=sa.text("'.'")))


def downgrade():
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.drop_column("csv_decimal_separator")
        batch_op.drop_column("csv_delimiter")
        batch_op.drop_column("buyer_reference")
        batch_op.drop_column("purchase_order_number")
        batch_op.drop_column("portal_formats")
