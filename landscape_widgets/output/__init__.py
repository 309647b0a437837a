"""Files without a browser: headless PNG, offline HTML pages, GIF and MP4 videos."""
