"""fixed line items are charges or discounts (a discount carries a negative unit price)

Revision ID: 0010_discount_lines
Revises: 0009_user_time_zone
Create Date: 2026-12-04 00:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0010_discount_lines"
down_revision = "0009_user_time_zone"
branch_labels = None
depends_on = None


def upgrade():
    # Every existing fixed line was checked not negative on save: they are all charges.
    with op.batch_alter_table("fixed_line_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=10), nullable=False, server_default="charge"))


def downgrade():
    with op.batch_alter_table("fixed_line_items", schema=None) as batch_op:
        batch_op.drop_column("kind")
