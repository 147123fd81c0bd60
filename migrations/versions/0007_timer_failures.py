"""a timer whose firing failed waits for Retry instead of failing every sweep

Revision ID: 0007_timer_failures
Revises: 0006_upload_ca_certificates
Create Date: 2026-11-21 13:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0007_timer_failures"
down_revision = "0006_upload_ca_certificates"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("workflow_timers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failed_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=False, server_default=sa.text("''")))


def downgrade():
    with op.batch_alter_table("workflow_timers", schema=None) as batch_op:
        batch_op.drop_column("last_error")
        batch_op.drop_column("failed_at")
