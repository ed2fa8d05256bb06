"""mmdream studio: a web page (Gradio) for dreaming pictures, sounds and films, built on mmdream's public API.
`requests` holds what each button does (also the HTTP API), `inputs` every number the page takes and its check,
`visitors` each visitor's own folder, Cancel and kept clips, `files` which files may be fetched, `views` what the
page draws besides the media, `page` the layout, `server` the start-up, the login and the limits. Start it with
`mmdream serve`."""
