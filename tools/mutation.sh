#!/usr/bin/env bash
# Mutation run (mutmut 3) over money, billing, auth, security and the workflow runtime, each with its own tests.
#
#   tools/mutation.sh                   the default groups (DEFAULT below)
#   tools/mutation.sh money auth        only these groups
#   tools/mutation.sh --results         list the surviving mutants of the last run again
#   tools/mutation.sh --show NAME       the diff of one mutant (NAME as listed by --results)
#
# mutmut copies what it mutates into ./mutants and reads its settings from setup.cfg, so the run happens in a copy of
# the work tree (MUTATION_DIR, default /tmp/ledgerflow-mutation): the checkout others work in stays untouched.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${VENV:-$ROOT/.venv}
WORK=${MUTATION_DIR:-/tmp/ledgerflow-mutation}
CHILDREN=${MUTATION_CHILDREN:-$(nproc)}

# group -> "modules to mutate|tests that exercise them" (mutmut then runs, per mutant, only the tests that reach it)
declare -A TARGETS=(
  [money]="portal/money.py|tests/test_money.py tests/services/billing/test_drafting.py tests/admin/test_filters.py"
  [security]="portal/security.py|tests/web/test_access_matrix.py tests/web/test_navigation.py"
  [auth]="portal/services/identity/auth.py|tests/services/identity/test_auth.py"
  [drafting]="portal/services/billing/drafting.py|tests/services/billing/test_drafting.py tests/services/billing/test_drafting_exact.py"
  # billing's files are also driven from the admin (templates, project documents) and the customer portal.
  [billing]="portal/services/billing/calllog.py portal/services/billing/delivery.py portal/services/billing/documents.py portal/services/billing/files.py portal/services/billing/proforma_review.py|tests/services/billing tests/admin/test_files.py tests/admin/test_writes.py tests/web/test_customer_portal.py"
  # steps leaves out test_races.py: its tests need PostgreSQL and several processes, which a mutant's run does not have.
  [steps]="portal/services/workflow/steps.py|tests/services/workflow/test_steps.py tests/services/workflow/test_steps_exact.py tests/services/workflow/test_inline.py tests/services/workflow/test_failures.py tests/services/workflow/test_task_people.py tests/services/workflow/test_service_jobs.py"
  # The rest of the workflow runtime: the inbox, the admin's process pages and the CLI and RQ wrappers drive it too.
  [runtime]="portal/services/workflow/tasks.py portal/services/workflow/service_jobs.py portal/services/workflow/timers.py portal/services/workflow/instances.py portal/services/workflow/migration.py|tests/services/workflow/test_steps.py tests/services/workflow/test_steps_exact.py tests/services/workflow/test_inline.py tests/services/workflow/test_failures.py tests/services/workflow/test_task_people.py tests/services/workflow/test_service_jobs.py tests/web/test_inbox.py tests/admin/test_processes.py tests/cli/test_workflows.py tests/jobs/test_jobs.py"
)
ORDER=(money security auth drafting billing steps runtime)
# What `tools/mutation.sh` runs without arguments: about 35 minutes on two cores. billing (815 mutants, about 50
# minutes) and steps (643, about 35) drive the engine, upload servers and fake call-logging systems: run them by
# name, one at a time, like runtime (tasks, service_jobs, timers, instances, migration).
DEFAULT=(money security auth drafting)

mutmut() { (cd "$WORK" && "$VENV/bin/mutmut" "$@"); }

case "${1:-}" in
  --results) mutmut results; exit ;;
  --show) mutmut show "$2"; exit ;;
esac

selected=("$@")
[ ${#selected[@]} -eq 0 ] && selected=("${DEFAULT[@]}")
modules=() tests=()
for group in "${selected[@]}"; do
  entry=${TARGETS[$group]:?unknown group $group (one of: ${ORDER[*]})}
  read -ra part <<<"${entry%%|*}"; modules+=("${part[@]}")
  read -ra part <<<"${entry#*|}"; tests+=("${part[@]}")
done

# A fresh copy of the work tree as it is now (uncommitted changes included), without caches and earlier results.
rm -rf "$WORK"
mkdir -p "$WORK"
(cd "$ROOT" && tar --exclude=./.venv --exclude=./node_modules --exclude=./mutants --exclude=./.git \
  --exclude='__pycache__' --exclude=./.pytest_cache --exclude=./.ruff_cache -cf - .) | (cd "$WORK" && tar -xf -)
# The tests run inside ./mutants; the web layer serves front-end files from node_modules next to portal/.
mkdir -p "$WORK/mutants"
ln -s "$ROOT/node_modules" "$WORK/mutants/node_modules"

{
  echo "[mutmut]"
  echo "source_paths = portal"
  echo "only_mutate ="; printf '    %s\n' "${modules[@]}"
  # Everything the app and its tests import or read besides portal/ (tests/ and pyproject.toml come anyway).
  echo "also_copy ="; printf '    %s\n' admin workflows devtools templates migrations wsgi.py
  echo "pytest_add_cli_args_test_selection ="; printf '    %s\n' "${tests[@]}"
  # One database is enough to tell a mutant from the original (make test runs both): SQLite halves the run, and
  # the tests written for PostgreSQL only (names ending "on_postgres") are left to make test.
  echo "pytest_add_cli_args ="; printf '    %s\n' -p no:cacheprovider -k "not postgres"
} >"$WORK/setup.cfg"

started=$(date +%s)
mutmut run --max-children "$CHILDREN"
echo "groups: ${selected[*]}; $(( $(date +%s) - started )) s"
echo "surviving and untested mutants (tools/mutation.sh --show NAME for a diff):"
mutmut results
