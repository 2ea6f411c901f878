def test_the_admin_login_page_renders(client, db):
    response = client.get("/admin/login/")
    assert response.status_code == 200
