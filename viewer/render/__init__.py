"""VTK rendering pipelines, without Qt.

Turns ``viewer.core`` volumes and display settings into VTK props: 2D slice views with
window/level applied on the GPU side of the pipeline, MPR reslicing, volume rendering and
offscreen rendering to numpy for thumbnails, the CLI and tests. Qt widgets that host these
pipelines live in ``viewer.ui``.
"""
