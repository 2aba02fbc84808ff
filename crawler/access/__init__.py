"""Access state of an onion service: is a fetch the site's content, or a challenge in front of it
(queue, captcha, login wall, rate limit, JavaScript-only shell)?"""
