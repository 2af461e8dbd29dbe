"""What the benchmark asks of each side: the API's two paths and Datasette's two answers.

Datasette's database is named after the file (``tracker.sqlite3`` serves as ``tracker``).
"""

from __future__ import annotations

DATABASE = "tracker"
FILE_NAME = f"{DATABASE}.sqlite3"
CANNED_QUERY = "measures_page"

# The measure's own columns, without what is derived from its events (status, participations):
# the closest the API comes to a table row. `url` is always kept.
LIGHT_FIELDS = (
    "slug",
    "title",
    "summary",
    "form",
    "scope",
    "venue",
    "parent",
    "parameters",
    "created_at",
    "updated_at",
)

API_NESTED = "/api/v1/measures/"
API_LIGHT = f"/api/v1/measures/?fields={','.join(LIGHT_FIELDS)}"
DATASETTE_CANNED = f"/{DATABASE}/{CANNED_QUERY}.json"
# Datasette's default JSON of a table page, 50 rows (facet suggestions are off in its settings).
DATASETTE_TABLE = f"/{DATABASE}/proposals_measure.json?_size=50"

# The API's first page (ordered by slug), each measure with its categories, named parties,
# events (actor codes joined) and positions, aggregated as JSON by SQLite: what the API's
# nested page is built from, less the derivations (status, participations, current stances).
MEASURES_PAGE_SQL = """
select
  m.slug, m.title, m.summary, m.form, m.scope, m.venue, parent.slug as parent, m.parameters,
  m.created_at, m.updated_at,
  (select json_group_array(category_id) from (
     select category_id from proposals_measure_categories where measure_id = m.id
     order by category_id)) as categories,
  (select json_group_array(code) from (
     select a.code from proposals_measureparty mp
     join proposals_actor a on a.id = mp.actor_id
     where mp.measure_id = m.id order by a.code)) as parties,
  (select json_group_array(json_object(
       'id', e.id, 'kind', e.kind, 'date', e.date, 'date_precision', e.date_precision,
       'actor', e.actor, 'scope_note', e.scope_note, 'certainty', e.certainty)) from (
     select e.*, a.code as actor from proposals_event e
     left join proposals_actor a on a.id = e.actor_id
     where e.measure_id = m.id order by e.date, e.id) as e) as events,
  (select json_group_array(json_object(
       'id', p.id, 'actor', p.actor, 'stance', p.stance, 'date', p.date,
       'date_precision', p.date_precision, 'quote', p.quote, 'certainty', p.certainty)) from (
     select p.*, a.code as actor from proposals_position p
     join proposals_actor a on a.id = p.actor_id
     where p.measure_id = m.id order by p.date, p.id) as p) as positions
from proposals_measure m
left join proposals_measure parent on parent.id = m.parent_id
order by m.slug
limit 50
"""


def metadata() -> dict[str, object]:
    """Datasette's metadata: the canned query."""
    return {"databases": {DATABASE: {"queries": {CANNED_QUERY: {"sql": MEASURES_PAGE_SQL}}}}}
