"""Files (SPEC §12): their objects in each database's ``_files`` table, their bytes in the store.

``models`` — the file object and the rules on names, types and sizes;
``repository`` — the statements on ``_files``; ``service`` — what the ``file.*``
ops and the upload and download routes do. The bytes themselves go through
``pgcube.storage``.
"""
