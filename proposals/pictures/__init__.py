"""Pictures as SVG text, drawn on the server: a measure's timeline, the stance matrix as a
heatmap, and source health over time. Each module turns data already read into a document;
``proposals.api.pictures`` reads the data and serves the documents."""

from proposals.pictures.health import HealthChart, health_svg
from proposals.pictures.matrix import matrix_svg
from proposals.pictures.timeline import Timeline, TimelineEvent, timeline_svg

__all__ = ["HealthChart", "Timeline", "TimelineEvent", "health_svg", "matrix_svg", "timeline_svg"]
