"""users choose the time zone times are shown in

Revision ID: 0009_user_time_zone
Revises: 0008_contract_references
Create Date: 2026-12-05 09:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0009_user_time_zone"
down_revision = "0008_contract_references"
branch_labels = None
depends_on = None


def upgrade():
    # Existing users have chosen none: they see the portal's DEFAULT_TIME_ZONE.
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("time_zone", sa.String(length=64), nullable=False,
                                      server_default=sa.text("''")))


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("time_zone")
