"""Read-only queries on the classification standard."""

from labels.models import Category


def category_subtree_ids(category: Category | int) -> list[int]:
    """The ids of a category and of every category below it, the category first (the tree is small: one query,
    walked in memory; a cycle cannot loop)."""
    root = category.pk if isinstance(category, Category) else category
    children: dict[int | None, list[int]] = {}
    for pk, parent_id in Category.objects.values_list("pk", "parent_id"):
        children.setdefault(parent_id, []).append(pk)
    found: list[int] = []
    seen: set[int] = set()
    todo = [root]
    while todo:
        pk = todo.pop()
        if pk in seen:
            continue
        seen.add(pk)
        found.append(pk)
        todo.extend(children.get(pk, ()))
    return found
