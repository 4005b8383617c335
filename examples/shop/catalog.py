"""What the shop sells: a fixed catalog (a real shop reads its own product table)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

__all__ = ["PRODUCTS", "Product"]


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    price: Decimal


PRODUCTS = {
    product.sku: product
    for product in (
        Product("oolong", "Oolong tea 乌龙茶, 100 g", Decimal("66.60")),
        Product("jasmine", "Jasmine tea 茉莉花茶, 50 g", Decimal("18.80")),
        Product("puer", "Pu'er cake 普洱茶饼, 357 g", Decimal("128.00")),
    )
}
