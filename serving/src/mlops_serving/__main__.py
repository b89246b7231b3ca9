"""``mlops-serve`` (or ``mlops-serve serve``, as SageMaker hosting starts an image): run
the service with uvicorn (one process; scale with replicas)."""

from __future__ import annotations

import sys

from mlops_serving.settings import SettingsError, load_settings


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    # SageMaker hosting starts a model's image as `<entrypoint> serve`
    if args not in ([], ["serve"]):
        print(  # noqa: T201
            f"mlops-serve: unexpected arguments {args}: the service takes none (or "
            "`serve`, as SageMaker hosting starts it); settings are SERVING_* "
            "variables",
            file=sys.stderr,
        )
        raise SystemExit(2)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"mlops-serve: {exc}", file=sys.stderr)  # noqa: T201
        raise SystemExit(2) from None
    import uvicorn  # noqa: PLC0415

    from mlops_serving.app import create_app  # noqa: PLC0415
    from mlops_serving.http import BoundedHeadProtocol  # noqa: PLC0415
    from mlops_serving.observability import configure_logging  # noqa: PLC0415

    configure_logging(settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log=False,  # the service logs one JSON line per request itself
        log_config=None,
        timeout_graceful_shutdown=10,
        # httptools, the request head bounded (431 past 64 KiB): mlops_serving.http
        http=BoundedHeadProtocol,
    )


if __name__ == "__main__":
    main()
