from tests.integration.vectors.support import VectorDb


def test_insert_search_delete(vdb: VectorDb) -> None:
    inserted = vdb.insert(
        "notes",
        [
            {"content": "The cat sleeps on the warm windowsill all afternoon.", "metadata": {"tag": "pets"}},
            {
                "content": "Interest rates rose again, and mortgage payments went up.",
                "metadata": {"tag": "money"},
            },
        ],
    )
    assert len(inserted) == 2
    hits = vdb.search("notes", query="my kitten naps by the window")
    assert hits[0]["metadata"] == {"tag": "pets"}, hits
    assert hits[0]["_score"] > hits[1]["_score"]
    only = vdb.search("notes", query="my kitten naps by the window", match={"metadata.tag": "money"})
    assert [hit["metadata"]["tag"] for hit in only] == ["money"]
    deleted = vdb.ok({"op": "vdb.delete", "collection": "notes", "doc_key": inserted[0]["doc_key"]})
    assert deleted["data"] == {"count": 1}
