def test_token_and_rowset_roundtrip(tenant):
    response = tenant.rowset("identify", [{"keys": {"Contact Key": "u1"}, "values": {"Email": "a@example.com"}}])
    assert response.status_code == 200
    assert tenant.rows("identify")[0]["Email"] == "a@example.com"
