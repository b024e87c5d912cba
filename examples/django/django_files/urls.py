from django.urls import path

from . import views

urlpatterns = [
    path("", views.upload_form, name="upload-form"),
    path("upload", views.upload, name="upload"),
    path("records/<str:record_id>/files", views.list_files, name="list-files"),
    path("records/<str:record_id>/files/<path:key>", views.serve_file, name="serve-file"),
]
