"""Upload into a draft, list a record's files, stream a file to the browser."""

from django.http import FileResponse, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect
from django.utils.html import escape
from django.views.decorators.http import require_GET, require_POST

from nrpfiles.errors import DoesNotExistError, PermissionDeniedError

from .repository import repository

FORM = """<!doctype html><title>Upload</title>
<form method="post" action="upload" enctype="multipart/form-data">
  <input type="hidden" name="csrfmiddlewaretoken" value="{csrf}">
  <label>Draft id (empty: a new draft) <input name="record"></label>
  <input type="file" name="file" required> <button>Upload</button>
</form>"""


@require_GET
def upload_form(request):
    return HttpResponse(FORM.format(csrf=escape(get_token(request))))


@require_POST
def upload(request):
    uploaded = request.FILES.get("file")
    if uploaded is None:
        return HttpResponseBadRequest("no file in the form")
    client = repository()
    record_id = request.POST.get("record") or None
    draft = record_id or client.records.create({"metadata": {"title": uploaded.name}})
    # The UploadedFile goes in as it is: in memory or in Django's temporary file.
    try:
        client.files.upload(draft, uploaded.name, {}, uploaded, overwrite=True)
    except (DoesNotExistError, PermissionDeniedError) as error:
        return JsonResponse({"error": str(error)}, status=404)
    return redirect("list-files", record_id=record_id or draft.id)


@require_GET
def list_files(request, record_id):
    try:
        files = repository().files.list(record_id)
    except (DoesNotExistError, PermissionDeniedError) as error:
        return JsonResponse({"error": str(error)}, status=404)
    entries = [{"key": f.key, "size": f.size, "checksum": f.checksum} for f in files]
    return JsonResponse({"record": record_id, "files": entries})


@require_GET
def serve_file(request, record_id, key):
    stream = repository().files.open(record_id, key)
    try:
        stream.start()  # a missing file is a 404 here, before any header goes out
    except (DoesNotExistError, PermissionDeniedError) as error:
        return JsonResponse({"error": str(error)}, status=404)
    # FileResponse reads the stream as the client takes it and closes it at the end.
    response = FileResponse(stream, as_attachment=True, filename=key)
    response.block_size = 1 << 20  # FileResponse's default 4 KiB reads cost time per byte
    if stream.size is not None:
        response["Content-Length"] = str(stream.size)
    return response
