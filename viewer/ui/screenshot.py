"""Screenshots of the main window, with or without an X server.

``QWidget.grab()`` shows VTK areas black (VTK paints straight to the native window), so on
offscreen Qt each viewport's framebuffer is pasted over its area; on X the screen itself is
grabbed, which is exactly what the user sees.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtWidgets import QWidget

from viewer.ui.viewport import Viewport


def grab_composite(top: QWidget) -> QImage:
    image = top.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    painter = QPainter(image)
    for view in top.findChildren(Viewport):
        if view.isVisible() and not view.vtk_widget.finalized:
            frame = np.ascontiguousarray(view.grab_frame())
            q = QImage(frame.data, frame.shape[1], frame.shape[0], 3 * frame.shape[1],
                       QImage.Format.Format_RGB888)
            painter.drawImage(QRect(view.vtk_widget.mapTo(top, QPoint(0, 0)), view.vtk_widget.size()), q)
    painter.end()
    return image


def grab_window(top: QWidget) -> QImage:
    if QGuiApplication.platformName() == "xcb":
        for view in top.findChildren(Viewport):
            view.render()
        return top.screen().grabWindow(top.winId()).toImage()
    return grab_composite(top)


def qimage_to_array(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h, bpl = image.width(), image.height(), image.bytesPerLine()
    data = np.frombuffer(image.constBits(), np.uint8, count=bpl * h).reshape(h, bpl)
    return data[:, : w * 3].reshape(h, w, 3).copy()
