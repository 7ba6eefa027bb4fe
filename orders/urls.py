from django.urls import path

from orders import views, views_chat

app_name = "orders"

urlpatterns = [
    path("", views.catalogue, name="catalogue"),
    path("products/<int:pk>/", views.product_detail, name="product"),
    path("orders/", views.my_orders, name="my_orders"),
    path("orders/<number:number>/", views.order_detail, name="order"),
    path("orders/<number:number>/pay/", views.pay, name="pay"),
    path("orders/<number:number>/reveal/", views.reveal, name="reveal"),
    path("orders/<number:number>/cancel/", views.cancel, name="cancel"),
    # 联系商家: the order's chat with the shop (orders/views_chat.py).
    path("orders/<number:number>/chat/", views_chat.order_chat, name="chat"),
    path(
        "orders/<number:number>/chat/files/<int:file_id>/",
        views_chat.order_chat_file,
        name="chat_file",
    ),
]
