"""Reading QR codes back from images, as a kiosk's scanner would: QR codes only.

zxing-cpp looks for every format by default, and about one code in 3,000 also yields a
phantom 1-D barcode read across the QR's modules; a scanner set to QR never sees it.
"""

from __future__ import annotations

import zxingcpp
from PIL import Image


def qr_texts(image: Image.Image) -> list[str]:
    """The text of every QR code zxing-cpp finds in the image."""
    return [r.text for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]
