"""The studio's web page (Gradio Blocks): one tab per kind of work, each button wired to a function of
mmdream.studio.requests. The dream buttons share one queue slot, so one dream runs at a time and a second visitor
sees their place in line; their functions are the HTTP API (`api_name`)."""

from __future__ import annotations

import functools
import inspect

import gradio as gr
from gradio.components.image_editor import WebcamOptions

from mmdream.checks import AUDIO_SUFFIXES, IMAGE_SUFFIXES, VIDEO_SUFFIXES
from mmdream.modality import MODALITIES
from mmdream.nets.registry import DEFAULT_NET, DEFAULT_STYLE_NET
from mmdream.options import BY_NAME, DREAM_DEFAULTS
from mmdream.schedule import EXAMPLE
from mmdream.studio import inputs, requests
from mmdream.studio.inputs import EXPLAIN, FILM, PICTURE, SOUND, STYLE_PICTURE, STYLE_SOUND
from mmdream.studio.visitors import LOCAL, PageError, Studio

ONE_AT_A_TIME = {"concurrency_limit": 1, "concurrency_id": "dream"}
QUICK = {"concurrency_limit": 4, "concurrency_id": "quick"}  # the editor's check: in the queue, never behind a dream


# The CLI's defaults, so the page and its API (every input after the first optional) dream as the CLI does.
PICTURE_DEFAULTS, SOUND_DEFAULTS = DREAM_DEFAULTS["image"], DREAM_DEFAULTS["audio"]
PHOTO_SIZE, STRENGTH, SEED = BY_NAME["max_size"].default_for("image"), BY_NAME["strength"].default, BY_NAME["seed"].default
DEPTH = 0.5  # the depth slider's start: the middle of the net


def number(field: inputs.OptionInput | inputs.Field, value: float, **options) -> gr.Slider | gr.Number:
    """A slider (or a box) for an option's input, as its schema declares it, or for a field of the page's own; what
    arrives goes to mmdream's own check untouched, so NaN or a string sent past the widget gets one line naming
    the input, not a Gradio traceback."""
    if isinstance(field, inputs.OptionInput):
        slider, (lo, hi), whole = field.slider, field.bounds, field.whole
    else:
        slider, lo, hi, whole = (field.lo, field.hi, field.step) if field.step else None, field.lo, field.hi, False
    if slider is None:
        component = gr.Number(value, label=field.label, minimum=lo, maximum=hi, precision=0 if whole else None,
                              elem_classes=[AS_SENT], **options)
    else:
        component = gr.Slider(slider[0], slider[1], value, step=slider[2], label=field.label,
                              elem_classes=[AS_SENT], **options)
    component.preprocess = lambda payload: payload
    return component


def session(request: gr.Request | None) -> str:
    """The visitor's Gradio session (each page load, each API client has its own)."""
    return getattr(request, "session_hash", None) or LOCAL

class _OneLineModel:
    """An input's data model whose refusal of what arrived is the page's one line (pydantic's is several, naming
    Gradio's classes): an API client may send a number or a dict where a file belongs."""

    def __init__(self, model, line: str) -> None:
        self.model, self.line = model, line

    def __getattr__(self, name: str):
        return getattr(self.model, name)

    def model_validate(self, value, **options):
        from pydantic import ValidationError

        try:
            return self.model.model_validate(value, **options)
        except ValidationError:
            raise gr.Error(self.line, print_exception=False) from None


def _refusal(component: gr.components.Component) -> str:
    """The one line for a value a component cannot take, naming it by its label's first words."""
    name = (component.label or component.elem_id or type(component).__name__.lower()).split(":")[0].strip()
    if component.data_model is not None and isinstance(component, (gr.Image, gr.Audio, gr.Video, gr.File)):
        return f"mmdream: error: {name} must be a file sent as the page sends one"
    choices = getattr(component, "choices", None)
    if choices and not getattr(component, "allow_custom_value", True):
        return f"mmdream: error: {name} must be one of {', '.join(str(value) for _, value in choices)}"
    return f"mmdream: error: {name} cannot take the value sent"


def one_line_inputs(page: gr.Blocks) -> None:
    """Every input component of the page refuses what it cannot take in one line (its data model's check and its
    own preprocessing alike), whatever its kind: Gradio's refusals name its classes, echo the value and span lines.
    What it accepts goes on to mmdream's own checks (mmdream.studio.inputs). Gradio builds a visitor's own copy of
    a component an event updated (an example clicked) from its arguments alone, so the same holds for every
    component of the page's kinds, marked by its classes (AS_SENT, A_FILE), not only for the page's instances."""
    for component in page.blocks.values():
        if not isinstance(component, gr.components.Component) or not hasattr(component, "preprocess"):
            continue
        line = _refusal(component)
        if component.data_model is not None:
            component.data_model = _OneLineModel(component.data_model, line)
        component.preprocess = _refusing(component.preprocess, line)
        _one_line_kind(type(component))


AS_SENT = "mmdream-as-sent"  # a number handed to mmdream's checks as it was sent
A_FILE = "mmdream-file"  # a file handed to mmdream's readers untouched


def _one_line_kind(cls: type) -> None:
    """A component class whose every instance (a visitor's copy too) preprocesses as the page's: AS_SENT and A_FILE
    as marked, anything its own preprocessing refuses in the input's one line."""
    original = cls.preprocess
    if getattr(original, "one_line", False):
        return

    def preprocess(self, payload):
        marked = set(self.elem_classes or ())
        if AS_SENT in marked:
            return payload
        if A_FILE in marked:
            return None if payload is None else getattr(payload, "path", payload)
        try:
            return original(self, payload)
        except Exception:  # noqa: BLE001 - whatever the component's own check raised: the input's one line
            raise gr.Error(_refusal(self), print_exception=False) from None

    preprocess.one_line = True
    cls.preprocess = preprocess


def _refusing(preprocess, line: str):
    @functools.wraps(preprocess)
    def checked(payload):
        try:
            return preprocess(payload)
        except Exception:  # noqa: BLE001 - whatever the component's own check raised: the input's one line
            raise gr.Error(line, print_exception=False) from None
    return checked


def PhotoInput(**options) -> gr.Image:  # noqa: N802 - used like the component it is
    """gr.Image that hands the uploaded file to mmdream untouched: mmdream's reader judges it (text named .jpg,
    a 20 000 px picture) and says what is wrong in its own one line, where Gradio's would fail in PIL first.
    (An instance's preprocess, not a subclass: Gradio writes a .pyi stub beside any module that subclasses.)"""
    image = gr.Image(type="filepath", elem_classes=[A_FILE], **options)
    image.preprocess = lambda payload: None if payload is None else payload.path
    return image


def page_errors(fn):
    """A request's one-line error shown in the page (and returned to API clients) as gr.Error."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def stream(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except PageError as e:
                raise gr.Error(str(e), print_exception=False) from None
        return stream

    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except PageError as e:
            raise gr.Error(str(e), print_exception=False) from None
    return call


def _first_ready(choices: list[tuple[str, str]], prefer: str | None = None) -> str | None:
    names = [name for _, name in choices]
    if prefer in names and not any(label.endswith("(needs weights)") for label, n in choices if n == prefer):
        return prefer
    return names[0] if names else None


def _net_controls(kind: str, prefer: str | None = None) -> tuple:
    """Net chooser, layer names, depth switch and slider, and target, kept in step with the chosen net."""
    choices = requests.net_choices(kind)
    first = _first_ready(choices, prefer)
    info = requests.net_info(first)
    # Typed values are allowed (a trained model's path, `mixed3:1.5`, a class alias): mmdream judges them.
    net = gr.Dropdown(choices, value=first, label="net", allow_custom_value=True,
                      info="ready nets first; the others need their weights (`mmdream models`)")
    layers = gr.Dropdown(info.layers, value=[], multiselect=True, label="layers", allow_custom_value=True,
                         info="empty: the net's own choice, or the depth below")
    by_depth = gr.Checkbox(False, label="dream at a depth instead")
    depth = number(inputs.DEPTH, DEPTH)
    target = gr.Dropdown(info.classes, value=None, filterable=True, allow_custom_value=True,
                         label=MODALITIES[kind].target_label,
                         info="type to search; empty: amplify whatever the layers see")

    def follow(name: str):
        chosen = requests.net_info(name)
        if chosen is None:  # a typed name mmdream does not list (a path): its layers are the user's to type
            return gr.Dropdown(choices=[], value=[]), gr.Dropdown(choices=[], value=None)
        return gr.Dropdown(choices=chosen.layers, value=[]), gr.Dropdown(choices=chosen.classes, value=None)

    net.change(follow, net, [layers, target], queue=False, api_visibility="private")
    return net, layers, by_depth, depth, target


def _pick_from_shared(studio: Studio, suffixes: set[str] | frozenset[str], into: gr.components.Component,
                      label: str, as_path: bool = True) -> None:
    """A list of the shared folder's media by name; picking one puts it in `into` (as the file, or its name)."""
    files = studio.shared_files(suffixes)
    pick = gr.Dropdown(files, value=None, label=label, visible=bool(files))

    @page_errors
    def picked(name: str | None) -> str | None:
        return (studio.shared_path(name) if as_path else name) if name else None

    pick.change(picked, pick, into, queue=False, api_visibility="private")


def examples(studio: Studio, suffixes: frozenset[str] | set[str], into: gr.components.Component) -> None:
    """One-click examples for an input: the procedural ones and the `--examples-folder`'s media of its kind."""
    if files := studio.example_files(suffixes):
        gr.Examples([[f] for f in files], [into], label="examples: click one to dream it", examples_per_page=8)


def picture_tab(studio: Studio) -> None:
    with gr.Row():
        with gr.Column():
            photo = PhotoInput(label="photo", sources=["upload", "clipboard"], elem_id="photo")
            _pick_from_shared(studio, IMAGE_SUFFIXES, photo, "or pick a photo from the shared folder")
            examples(studio, IMAGE_SUFFIXES, photo)
            guide = PhotoInput(label="guide image (optional)", sources=["upload", "clipboard"])
        with gr.Column():
            net, layers, by_depth, depth, target = _net_controls("image")
            with gr.Row():
                octaves = number(PICTURE["octaves"], PICTURE_DEFAULTS["octaves"])
                steps = number(PICTURE["steps"], PICTURE_DEFAULTS["steps"])
            with gr.Row():
                strength = number(PICTURE["strength"], STRENGTH)
                seed = number(PICTURE["seed"], SEED)
            max_size = number(PICTURE["max_size"], PHOTO_SIZE)
            go = gr.Button("Dream", variant="primary", elem_id="dream-image")
        with gr.Column():
            dream = gr.Image(type="filepath", format="png", label="dream", elem_id="image-dream",
                             buttons=["download", "fullscreen"], interactive=False)
            summary = gr.Markdown(elem_id="image-summary")

    @page_errors
    def dream_image(photo, net=DEFAULT_NET["image"], layers=None, by_depth=False, depth=DEPTH,
                    octaves=PICTURE_DEFAULTS["octaves"], steps=PICTURE_DEFAULTS["steps"], strength=STRENGTH,
                    seed=SEED, target=None, guide=None,
                    max_size=PHOTO_SIZE, progress=gr.Progress(), request: gr.Request = None):
        """Dream a photo; returns the dream and the objective before and after."""
        return requests.dream_picture(studio, photo, net, layers, depth, by_depth, octaves, steps, strength, seed,
                                      target, guide, max_size, progress, session=session(request))

    go.click(dream_image, [photo, net, layers, by_depth, depth, octaves, steps, strength, seed, target, guide,
                           max_size], [dream, summary], api_name="dream_image", **ONE_AT_A_TIME)


def sound_tab(studio: Studio) -> None:
    with gr.Row():
        with gr.Column():
            sound = gr.Audio(sources=["upload", "microphone"], type="filepath", label="sound",
                                        elem_id="sound")
            _pick_from_shared(studio, AUDIO_SUFFIXES, sound, "or pick a sound from the shared folder")
            examples(studio, AUDIO_SUFFIXES, sound)
        with gr.Column():
            net, layers, by_depth, depth, target = _net_controls("audio")
            with gr.Row():
                steps = number(SOUND["steps"], SOUND_DEFAULTS["steps"])
                strength = number(SOUND["strength"], STRENGTH)
            duration = number(SOUND["duration"], 0)
            go = gr.Button("Dream", variant="primary", elem_id="dream-audio")
        with gr.Column():
            dream = gr.Audio(type="filepath", label="dream", elem_id="sound-dream", interactive=False)
            before = gr.Image(label="input spectrogram", interactive=False, elem_id="spectrogram-before")
            after = gr.Image(label="dream spectrogram", interactive=False, elem_id="spectrogram-after")
            summary = gr.Markdown(elem_id="sound-summary")

    @page_errors
    def dream_audio(sound, net=DEFAULT_NET["audio"], layers=None, by_depth=False, depth=DEPTH, target=None,
                    steps=SOUND_DEFAULTS["steps"], strength=STRENGTH, duration=0, progress=gr.Progress(),
                    request: gr.Request = None):
        """Dream a sound; returns the dream, both spectrograms, and the objective, loudness and true peak."""
        return requests.dream_sound(studio, sound, net, layers, depth, by_depth, target, steps, strength, duration,
                                    progress, session=session(request))

    go.click(dream_audio, [sound, net, layers, by_depth, depth, target, steps, strength, duration],
             [dream, before, after, summary], api_name="dream_audio", **ONE_AT_A_TIME)


def film_tab(studio: Studio, schedule: gr.Code) -> None:
    with gr.Row():
        with gr.Column():
            clip = gr.Video(sources=["upload"], label="clip", elem_id="clip")
            examples(studio, VIDEO_SUFFIXES, clip)
            server_path = gr.Textbox(label="or a clip in the shared folder (its name there)",
                                     visible=studio.shared is not None)
            _pick_from_shared(studio, VIDEO_SUFFIXES, server_path, "or pick a clip from the shared folder",
                              as_path=False)
            style = PhotoInput(label="style picture for a style pass (optional)",
                               sources=["upload"])
        with gr.Column():
            net = gr.Dropdown(requests.net_choices("image"), value=_first_ready(requests.net_choices("image")),
                              label="picture net", allow_custom_value=True)
            audio_net = gr.Dropdown(requests.net_choices("audio"), value=_first_ready(requests.net_choices("audio")),
                                    label="sound net", allow_custom_value=True)
            max_size = number(FILM["max_size"], 320, elem_id="film-size")
            with gr.Row():
                start = number(FILM["start"], 0)
                end = number(FILM["end"], 0, elem_id="film-end")
            with gr.Row():
                steps = number(FILM["steps"], 10)
                react = number(FILM["react"], 0.0)
            follow = gr.Dropdown(["none", *BY_NAME["follow"].choices], value="none", label="follow: the picture dreams what the "
                                 "sound holds, the sound what the picture shows", elem_id="film-follow")
            use_schedule = gr.Checkbox(False, label="use the Schedule tab's schedule")
            on_cluster = gr.Checkbox(False, label=f"render on the cluster ({studio.ray})", visible=studio.ray is not None,
                                     elem_id="film-cluster")
            with gr.Row():
                go = gr.Button("Render", variant="primary", elem_id="render")
                stop = gr.Button("Cancel", variant="stop", elem_id="cancel")
        with gr.Column():
            status = gr.Markdown(elem_id="film-status")
            frames = gr.Image(label="latest dreamed frames", interactive=False, elem_id="film-frames")
            film = gr.Video(label="dream film", interactive=False, elem_id="film-dream")

    @page_errors
    def dream_video(clip=None, server_path=None, net=net.value, audio_net=audio_net.value, max_size=max_size.value,
                    start=0, end=0, schedule_text=None, use_schedule=False, react=0.0, style=None, steps=steps.value,
                    follow="none", on_cluster=False, progress=gr.Progress(), request: gr.Request = None):
        """Render a film (resumable); streams the status and the latest frames, then the film with its sound."""
        yield from requests.dream_film(studio, clip, server_path, net, audio_net, max_size, start, end,
                                       schedule_text if use_schedule else None, react, style, steps, progress,
                                       session=session(request), follow=follow, on_cluster=bool(on_cluster))

    def cancel_video(request: gr.Request = None):
        """Cancel your own film after the frame in hand (answered at once, outside the queue of dreams)."""
        return requests.cancel_film(studio, session(request))

    go.click(dream_video, [clip, server_path, net, audio_net, max_size, start, end, schedule, use_schedule, react,
                           style, steps, follow, on_cluster], [status, frames, film], api_name="dream_video",
             **ONE_AT_A_TIME)
    stop.click(cancel_video, None, status, queue=False, api_name="cancel_video")


def schedule_tab() -> gr.Code:
    text = EXAMPLE.read_text()
    editor = gr.Code(text, language=None, lines=24, label="schedule (TOML)", elem_id="schedule", interactive=True)
    verdict = gr.Markdown(requests.check_schedule(text), elem_id="schedule-verdict")
    # A verdict as you type: no progress timer flashing over it between keystrokes.
    editor.change(requests.check_schedule, editor, verdict, api_name="check_schedule", show_progress="hidden", **QUICK)
    return editor


def style_tab(studio: Studio) -> None:
    gr.Markdown("### Picture")
    with gr.Row():
        with gr.Column():
            content = PhotoInput(label="content picture", sources=["upload", "clipboard"])
            examples(studio, IMAGE_SUFFIXES, content)
        with gr.Column():
            style = PhotoInput(label="style picture", sources=["upload", "clipboard"])
            examples(studio, IMAGE_SUFFIXES, style)
        with gr.Column():
            choices = requests.net_choices("image")
            net = gr.Dropdown(choices, value=_first_ready(choices, DEFAULT_STYLE_NET), label="net", allow_custom_value=True)
            steps = number(STYLE_PICTURE["style_steps"], BY_NAME["style_steps"].default)
            max_size = number(STYLE_PICTURE["max_size"], 384)
            go = gr.Button("Style", variant="primary")
        with gr.Column():
            result = gr.Image(type="filepath", format="png", label="styled", interactive=False)
            summary = gr.Markdown()
    @page_errors
    def style_image(content, style, net=net.value, steps=steps.value, max_size=max_size.value, progress=gr.Progress(),
                    request: gr.Request = None):
        """Style transfer of a picture; returns it and the style loss before and after."""
        return requests.style_picture(studio, content, style, net, steps, max_size, progress,
                                      session=session(request))

    go.click(style_image, [content, style, net, steps, max_size], [result, summary], api_name="style_image",
             **ONE_AT_A_TIME)
    gr.Markdown("### Sound")
    with gr.Row():
        with gr.Column():
            content_sound = gr.Audio(sources=["upload", "microphone"], type="filepath", label="content sound")
            examples(studio, AUDIO_SUFFIXES, content_sound)
        with gr.Column():
            style_sound = gr.Audio(sources=["upload"], type="filepath", label="style sound")
            examples(studio, AUDIO_SUFFIXES, style_sound)
        with gr.Column():
            sound_steps = number(STYLE_SOUND["audio_style_steps"], BY_NAME["audio_style_steps"].default)
            duration = number(STYLE_SOUND["duration"], 0)
            go_sound = gr.Button("Style", variant="primary")
        with gr.Column():
            styled = gr.Audio(type="filepath", label="styled", interactive=False)
            sound_summary = gr.Markdown()
    @page_errors
    def style_audio(content, style, steps=sound_steps.value, duration=0, progress=gr.Progress(),
                    request: gr.Request = None):
        """Style transfer of a sound; returns it and the style loss before and after."""
        return requests.style_sound(studio, content, style, steps, duration, progress, session=session(request))

    go_sound.click(style_audio, [content_sound, style_sound, sound_steps, duration], [styled, sound_summary],
                   api_name="style_audio", **ONE_AT_A_TIME)


def explain_tab(studio: Studio) -> None:
    """Inside the net: a class or channels of any listed net, as a grid of pictures or as sounds and their sheet."""
    from mmdream.specs import defaults_of

    defaults = defaults_of("explain")
    with gr.Row():
        with gr.Column():
            choices = requests.net_choices("image") + requests.net_choices("audio")
            first = _first_ready(choices, DEFAULT_NET["image"])
            net = gr.Dropdown(choices, value=first, label=EXPLAIN["net"].label, elem_id="explain-net",
                              allow_custom_value=True, info="or the name of a model you added")
            classes = gr.Dropdown(requests.net_info(first).classes, value=None, filterable=True,
                                  allow_custom_value=True, label=EXPLAIN["classes"].label,
                                  info="a class to picture or sound; or channels below")
            channel = gr.Textbox(label=EXPLAIN["channel"].label, placeholder="block4c:3,7")
            steps = number(EXPLAIN["steps"], 64)
            max_size = number(EXPLAIN["max_size"], defaults["max_size"])
            diversity = number(EXPLAIN["diversity"], defaults["diversity"])
            go = gr.Button("Explain", variant="primary", elem_id="explain")
        with gr.Column():
            grid = gr.Image(type="filepath", format="png", label="what the net sees", interactive=False)
            sound = gr.Audio(type="filepath", label="what the net hears", interactive=False)
            sheet = gr.Image(type="filepath", format="png", label="their spectrograms", interactive=False)
            summary = gr.Markdown(elem_id="explain-summary")

    def follow(name: str):
        chosen = requests.net_info(name)
        return gr.Dropdown(choices=chosen.classes if chosen else [], value=None)

    net.change(follow, net, classes, queue=False, api_visibility="private")

    @page_errors
    def explain(net=first, classes=None, channel=None, steps=64, max_size=defaults["max_size"],
                diversity=defaults["diversity"], progress=gr.Progress(), request: gr.Request = None):
        """What a net has learned: a grid of pictures (image nets) or sounds and their spectrograms (sound nets)."""
        return requests.explain_net(studio, net, classes, channel, steps, max_size, diversity, progress,
                                    session=session(request))

    go.click(explain, [net, classes, channel, steps, max_size, diversity], [grid, sound, sheet, summary],
             api_name="explain", **ONE_AT_A_TIME)


def live_tab(studio: Studio) -> None:
    """The visitor's camera, dreamed frame by frame as it streams (mmdream.studio.live)."""
    live = BY_NAME["max_size"].default_for("live")
    with gr.Row():
        with gr.Column():
            # the camera asked for frames near the dream's size: less to send, decode and scale per frame
            camera = gr.Image(sources=["webcam"], streaming=True, type="numpy", label="camera", elem_id="live-camera",
                              webcam_options=WebcamOptions(constraints={"video": {"width": {"ideal": 2 * live}}}))
            choices = requests.net_choices("image")
            net = gr.Dropdown(choices, value=_first_ready(choices), label="net", allow_custom_value=True,
                              info="or the name of a model you added", elem_id="live-net")
            depth = number(inputs.DEPTH, DEPTH, elem_id="live-depth")
            strength = number(inputs.LIVE["strength"], STRENGTH, elem_id="live-strength")
            steps = number(inputs.WARM_STEPS, 0, elem_id="live-steps")
            max_size = number(inputs.LIVE["max_size"], live, elem_id="live-size")
        with gr.Column():
            dream = gr.Image(label="dream", interactive=False, elem_id="live-dream", format="jpeg")
            status = gr.Markdown(f"at most {studio.live.max_live} stream(s) at once, each up to "
                                 f"{studio.live.seconds / 60:g} minutes", elem_id="live-status")

    @page_errors
    def live_frame(frame, net=net.value, depth=DEPTH, strength=STRENGTH, steps=0, max_size=live,
                   request: gr.Request = None):
        """Dream one camera frame in your live stream (the first starts it); the dream and its measures."""
        return requests.live_frame(studio, frame, net, depth, strength, steps, max_size, session=session(request))

    controls = [camera, net, depth, strength, steps, max_size]
    # The page streams while the camera records (its next frame goes as soon as a dream is back); an API client,
    # whose library does not take a stream, sends a frame at a time to the same function.
    camera.stream(live_frame, controls, [dream, status], stream_every=0.02, time_limit=int(studio.live.seconds),
                  concurrency_limit=studio.live.max_live + 1, concurrency_id="live", api_name="live_stream",
                  api_visibility="private")
    one_frame = gr.Button("dream one frame", visible=False)
    one_frame.click(live_frame, controls, [dream, status], api_name="live_frame", concurrency_id="live")


def model_tab(studio: Studio) -> None:
    """A visitor's own Keras image classifier, for their visit alone: its name then dreams in the other tabs."""
    with gr.Row():
        with gr.Column():
            upload = gr.File(label="model file (.keras or .h5)", file_types=[".keras", ".h5"], type="filepath",
                             elem_id="model-file", elem_classes=[A_FILE])
            upload.preprocess = lambda payload: None if payload is None else payload.path  # judged by mmdream
            value_range = gr.Dropdown(list(inputs.MODEL_RANGES), value=inputs.AS_THE_MODEL_SAYS,
                                      label="value range", info="the pixel values it takes, where it does not "
                                      "rescale them itself")
            go = gr.Button("Add", variant="primary", elem_id="add-model")
        with gr.Column():
            summary = gr.Markdown(elem_id="model-summary")

    @page_errors
    def add_model(model, value_range=inputs.AS_THE_MODEL_SAYS, request: gr.Request = None):
        """Keep your own Keras image classifier for this visit; its name is then a net of the other tabs."""
        return requests.add_model(studio, model, value_range, session=session(request))

    go.click(add_model, [upload, value_range], summary, api_name="add_model", **ONE_AT_A_TIME)


def build_page(studio: Studio) -> gr.Blocks:
    with gr.Blocks(title="mmdream studio", delete_cache=(3600, 3600)) as page:  # Gradio's copies: an hour
        gr.Markdown("# mmdream studio\nDream pictures, sounds and films. One dream runs at a time; others wait in "
                    "line and see their place.")
        with gr.Tab("Picture", id="picture"):
            picture_tab(studio)
        with gr.Tab("Sound", id="sound"):
            sound_tab(studio)
        with gr.Tab("Schedule", id="schedule"):
            schedule = schedule_tab()
        with gr.Tab("Film", id="film"):
            film_tab(studio, schedule)
        with gr.Tab("Style", id="style"):
            style_tab(studio)
        with gr.Tab("Live", id="live"):
            live_tab(studio)
        with gr.Tab("Inside the net", id="explain"):
            explain_tab(studio)
        with gr.Tab("Your model", id="model"):
            model_tab(studio)

        def leave(request: gr.Request = None) -> None:  # the page closed: the visitor's live stream ends
            requests.end_live(studio, session(request), "its page closed")

        def end_live(request: gr.Request = None) -> None:
            """End your live stream now (a page's ends when it closes)."""
            requests.end_live(studio, session(request), "its client ended it")

        page.unload(leave)
        stop_live = gr.Button("end my live stream", visible=False)  # an API client's way to end its stream
        stop_live.click(end_live, None, None, api_name="end_live", queue=False)
    one_line_inputs(page)
    return page
